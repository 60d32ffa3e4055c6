"""Callers of identity's AnalyzeVideo that never finish their stream, called for real: a server on a free loopback
port, and streams that send a frame and then stall (a crashed or careless caller whose connection stays open).
Each held one of the server's threads until its connection aged out (15 minutes): sixteen of them left none for
health checks or any other call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager

import cv2
import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from services.identity.process import SERVER_THREADS, IdentityProcess
from services.identity.server import MAX_ANALYSES, MAX_ENROLMENTS


def jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[IdentityProcess, grpc.Channel]]:
    """An identity service on a free loopback port and a channel to it once it is healthy; both closed after."""
    process = IdentityProcess(settings)
    channel = open_channel(f"127.0.0.1:{process.port}")
    try:
        wait_healthy(channel, timeout_s=60)
        yield process, channel
    finally:
        channel.close()
        process.stop(grace_s=1)


def recluster_code(stub: identity_pb2_grpc.IdentityServiceStub, request: identity_pb2.ReclusterRequest,
                   timeout_s: float) -> grpc.StatusCode:
    """How one Recluster call with `request` ended: OK once its whole stream is read, or the code it failed with."""
    try:
        list(stub.Recluster(request, timeout=timeout_s))
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def until_every_slot_is_taken(process: IdentityProcess, deadline: float) -> None:
    """Waits, until time.monotonic() passes `deadline`, for every Recluster slot of `process` to be held."""
    slots = process.servicer._reclusters
    while slots._value > 0 and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def identity(tmp_path) -> Iterator[grpc.Channel]:
    with serving(Settings(data_dir=tmp_path, identity_port=0, workers=1)) as (_, channel):
        yield channel


def stalled(video_id: str, release: threading.Event) -> Iterator[identity_pb2.AnalyzeVideoRequest]:
    yield identity_pb2.AnalyzeVideoRequest(video_id=video_id, index=0, image=jpeg())
    release.wait()


def test_streams_that_never_end_leave_threads_for_health_and_other_calls_and_past_the_cap_are_unavailable(
        identity: grpc.Channel) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(identity)
    release = threading.Event()
    calls = [stub.AnalyzeVideo.future(stalled(f"{k + 1:016x}", release), timeout=300)
             for k in range(SERVER_THREADS)]
    try:
        # A stream past the cap is refused at once, before a frame is read (this one's frame is no image: were it
        # let in, it would be refused for that instead).
        deadline = time.monotonic() + 60
        while True:
            with pytest.raises(grpc.RpcError) as caught:
                stub.AnalyzeVideo(iter([identity_pb2.AnalyzeVideoRequest(video_id="00000000000000ff", image=b"x")]),
                                  timeout=30)
            if caught.value.code() == grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                break
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
        assert f"receiving {MAX_ANALYSES} videos at once" in caught.value.details()
        health = health_pb2_grpc.HealthStub(identity).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert stub.ListVideoIds(identity_pb2.ListVideoIdsRequest(), timeout=10).video_ids == []
    finally:
        for call in calls:
            call.cancel()
        release.set()
    refused = [c for c in calls if not c.cancelled() and c.exception() is not None]
    assert all(c.exception().code() == grpc.StatusCode.UNAVAILABLE for c in refused)
    # Every slot is free again once the stalled callers are gone.
    reply = stub.AnalyzeVideo(iter([identity_pb2.AnalyzeVideoRequest(video_id="00000000000000fe", image=jpeg())]),
                              timeout=120)
    assert reply.frames == 1



def test_enrolments_past_the_cap_are_refused_at_once_naming_it_and_health_and_reads_still_answer(
        identity: grpc.Channel) -> None:
    # Forty callers enrolling six large photos each took every server thread: health checks and every other
    # call waited past their 30 s deadlines for minutes (a liveness probe fails at 5 s).
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (1500, 1500, 3), dtype=np.uint8))
    assert ok
    photos = [buf.tobytes()] * 4  # noise: decoded and searched, no face found
    stub = identity_pb2_grpc.IdentityServiceStub(identity)
    calls = [stub.EnrolInfluencer.future(identity_pb2.EnrolInfluencerRequest(name=f"P{k}", photos=photos),
                                         timeout=300) for k in range(SERVER_THREADS + 8)]
    try:
        started = time.monotonic()
        health = health_pb2_grpc.HealthStub(identity).Check(health_pb2.HealthCheckRequest(service="liveness"),
                                                            timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert stub.ListInfluencers(identity_pb2.ListInfluencersRequest(), timeout=10).influencers == []
        assert time.monotonic() - started < 3
    finally:
        errors = [c.exception() for c in calls]
    busy = [e for e in errors if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert busy and all(f"enrolling {MAX_ENROLMENTS} people at once, its limit" in e.details() for e in busy)
    assert {e.code() for e in errors} <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT}
    assert all("no face found" in e.details() for e in errors if e.code() == grpc.StatusCode.INVALID_ARGUMENT)
    assert len(errors) - len(busy) >= MAX_ENROLMENTS, "the first callers are enrolled (here: no face found)"

IDLE_S = 1.0  # the idle limit of the server below: a stream sending nothing for this long is ended


@pytest.fixture
def impatient(tmp_path) -> Iterator[grpc.Channel]:
    with serving(Settings(data_dir=tmp_path, identity_port=0, workers=1, stream_idle_s=IDLE_S)) as (_, channel):
        yield channel


def silent(release: threading.Event) -> Iterator[identity_pb2.AnalyzeVideoRequest]:
    release.wait()
    yield from ()


def test_streams_that_stop_sending_are_ended_after_the_idle_limit_naming_it_and_free_their_slots(
        impatient: grpc.Channel) -> None:
    # Before, a caller that opened a stream and sent nothing more kept its slot (and a server thread) until its
    # own deadline: MAX_ANALYSES such callers refused every video for as long as they cared to wait.
    stub = identity_pb2_grpc.IdentityServiceStub(impatient)
    release = threading.Event()
    streams = [stalled(f"{k + 1:016x}", release) if k % 2 else silent(release) for k in range(MAX_ANALYSES)]
    calls = [stub.AnalyzeVideo.future(s, timeout=300) for s in streams]
    try:
        errors = [call.exception(timeout=60) for call in calls]
    finally:
        release.set()
    for error in errors:
        assert error is not None and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
        assert f"no frame for {IDLE_S:g} s" in error.details() and "INFLUENCERS_STREAM_IDLE_S" in error.details()
    reply = stub.AnalyzeVideo(iter([identity_pb2.AnalyzeVideoRequest(video_id="00000000000000fe", image=jpeg())]),
                              timeout=120)
    assert reply.frames == 1, "every slot is free again"
    assert stub.ListVideoIds(identity_pb2.ListVideoIdsRequest(), timeout=10).video_ids == [], "nothing was stored"


def test_a_stream_whose_frames_come_within_the_idle_limit_of_each_other_is_analysed(impatient: grpc.Channel) -> None:
    def slow() -> Iterator[identity_pb2.AnalyzeVideoRequest]:
        for index in range(3):
            time.sleep(IDLE_S / 2)
            yield identity_pb2.AnalyzeVideoRequest(video_id="00000000000000fd", index=index, image=jpeg())

    reply = identity_pb2_grpc.IdentityServiceStub(impatient).AnalyzeVideo(slow(), timeout=120)
    assert reply.frames == 3


def test_reclusters_past_the_cap_are_refused_as_busy_at_once_leaving_threads_and_ours_call_again_until_they_run(
        tmp_path) -> None:
    # Before, every Recluster took a server thread and waited for the registry's lock, building its whole answer
    # once it had it: 30 at once kept a health check waiting 2 s, and nothing bounded them.
    from services.common.clients import GrpcIdentity, drain
    from services.common.recluster_limits import BUSY, MAX_RECLUSTERS

    with serving(Settings(data_dir=tmp_path, identity_port=0, workers=1)) as (process, channel):
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        ours: list[object] = []
        with process.registry.lock:  # every Recluster let in waits for it
            calls = [stub.Recluster(identity_pb2.ReclusterRequest(), timeout=120) for _ in range(MAX_RECLUSTERS)]
            deadline = time.monotonic() + 60
            # The calls above take their slots as the server's threads reach them: probe only once they all have,
            # or a probe may take a slot first and one of them be refused (seen on a busy machine).
            until_every_slot_is_taken(process, deadline)
            while True:
                with pytest.raises(grpc.RpcError) as caught:
                    list(stub.Recluster(identity_pb2.ReclusterRequest(), timeout=5))
                if caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                    break
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value.details()
            assert caught.value.details().startswith(BUSY)
            assert f"runs {MAX_RECLUSTERS} Recluster calls at once, its limit" in caught.value.details()
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            waiting = threading.Thread(target=lambda: ours.append(drain(GrpcIdentity(stub, 30).recluster(
                (), resync_only=False))))
            waiting.start()
            time.sleep(1.0)
            assert waiting.is_alive() and not ours, "a client of ours waits while identity is busy"
        for call in calls:
            assert [page.changes.feed_position for page in call][-1] >= 0
        waiting.join(60)
        assert len(ours) == 1, "it called again once a slot was free, and its Recluster ran"


def test_reclusters_whose_callers_cancel_or_pass_their_deadline_while_waiting_stop_and_free_their_slots(
        tmp_path) -> None:
    # Before, a cancelled Recluster kept waiting for the registry's lock, holding its slot, and ran its recluster
    # once it had it: four callers gone kept every other caller refused as busy for as long as the lock was held.
    from services.common.recluster_limits import MAX_RECLUSTERS

    with serving(Settings(data_dir=tmp_path, identity_port=0, workers=1)) as (process, channel):
        stub = identity_pb2_grpc.IdentityServiceStub(channel)

        def answer(timeout_s: float) -> grpc.StatusCode:
            return recluster_code(stub, identity_pb2.ReclusterRequest(), timeout_s)

        head = process.feed.head()
        with process.registry.lock:
            # Reclusters, and snapshots (analytics' resync) alike.
            calls = [stub.Recluster(identity_pb2.ReclusterRequest(resync_only=k % 2 == 1), timeout=120)
                     for k in range(MAX_RECLUSTERS - 1)]
            short = threading.Thread(target=answer, args=(2.0,))  # its deadline passes while it waits
            short.start()
            deadline = time.monotonic() + 60
            # Probe only once every call above holds its slot: a probe reaching the server before `short` took the
            # last slot, and once more each time it timed out, as the slot came back at once (seen in CI, loaded).
            until_every_slot_is_taken(process, deadline)
            while answer(5) != grpc.StatusCode.RESOURCE_EXHAUSTED:
                assert time.monotonic() < deadline, "the calls never took every slot"
            for call in calls:
                call.cancel()
            short.join(30)
            deadline = time.monotonic() + 10
            while True:  # as many new calls at once as there are slots: each takes one and waits for the lock
                with ThreadPoolExecutor(MAX_RECLUSTERS) as pool:
                    codes = list(pool.map(answer, [1.0] * MAX_RECLUSTERS))
                if set(codes) == {grpc.StatusCode.DEADLINE_EXCEEDED} or time.monotonic() > deadline:
                    break
                time.sleep(0.3)  # these calls' own slots come back within the lock's poll (0.1 s)
            assert set(codes) == {grpc.StatusCode.DEADLINE_EXCEEDED}, codes
        assert process.feed.head() == head, "the calls gone published nothing"
        assert answer(30) == grpc.StatusCode.OK


def test_reclusters_whose_callers_pass_their_deadline_waiting_for_another_replicas_lock_stop_and_free_their_slots(
        tmp_path, postgres_url) -> None:
    # Before, on PostgreSQL, the call holding the registry's lock waited in pg_advisory_lock for as long as another
    # replica wrote, its caller gone, its slot held (one more call each time the callers tried again), and then ran
    # its recluster for nobody.
    from services.common.database import open_engine
    from services.common.recluster_limits import MAX_RECLUSTERS
    from services.identity.writer_lock import WriterLock

    settings = Settings(data_dir=tmp_path, identity_port=0, workers=1, database_url=postgres_url)
    with serving(settings) as (process, channel), closing(WriterLock(open_engine(postgres_url))) as other:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)

        def answer(timeout_s: float) -> grpc.StatusCode:
            return recluster_code(stub, identity_pb2.ReclusterRequest(resync_only=True, publish=True), timeout_s)

        head = process.feed.head()
        with other:  # another identity replica's writers hold the lock
            for _ in range(3):  # as many calls at once as there are slots, three times: each time every slot is free
                with ThreadPoolExecutor(MAX_RECLUSTERS) as pool:
                    codes = list(pool.map(answer, [1.0] * MAX_RECLUSTERS))
                assert set(codes) == {grpc.StatusCode.DEADLINE_EXCEEDED}, codes
                time.sleep(0.3)  # the calls' slots come back within the locks' poll (0.1 s)
            with open_engine(postgres_url).connect() as db:
                waiting = db.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one()
            assert waiting == 0, "no call gone still waits in the server for the replicas' lock"
        time.sleep(0.5)
        assert process.feed.head() == head, "the calls gone published nothing"
        assert answer(30) == grpc.StatusCode.OK


class CancelledMidStream:
    """The server's side of a Recluster call (the grpc.ServicerContext calls the servicer makes) whose client
    cancels after the first page: gRPC then runs the call's callbacks and stops reading its generator, which
    stays suspended at that page."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.active = True

    def add_callback(self, callback) -> bool:  # type: ignore[no-untyped-def]
        self.callbacks.append(callback)
        return True

    def is_active(self) -> bool:
        return self.active

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise AssertionError(f"{code}: {details}")

    def cancel(self) -> None:
        self.active = False
        for callback in self.callbacks:
            callback()


def test_recluster_streams_cancelled_after_their_first_page_free_their_slots_as_they_end(tmp_path) -> None:
    # Before, the slot was freed by the generator's `finally` alone: a stream cancelled mid-way kept it for as long
    # as its suspended generator lived, and MAX_RECLUSTERS such streams kept every other caller refused as busy.
    from services.common.recluster_limits import MAX_RECLUSTERS

    process = IdentityProcess(Settings(data_dir=tmp_path, identity_port=0, workers=1))
    suspended = []
    try:
        for _ in range(MAX_RECLUSTERS + 1):
            call = CancelledMidStream()
            stream = process.servicer.Recluster(identity_pb2.ReclusterRequest(resync_only=True), call)
            assert next(stream).changes.feed_id, "the first page of a snapshot"  # refused as busy: abort raises
            call.cancel()
            suspended.append(stream)  # kept alive, suspended at its first page, as gRPC leaves it
        assert process.servicer._reclusters.acquire(blocking=False), "a slot is free"
    finally:
        process.stop(grace_s=1)


def test_a_recluster_of_more_videos_than_the_cap_is_refused_naming_the_field_and_repeats_count_once(
        identity: grpc.Channel) -> None:
    from services.common.recluster_limits import MAX_RECLUSTER_VIDEOS

    stub = identity_pb2_grpc.IdentityServiceStub(identity)
    many = [f"{k:016x}" for k in range(MAX_RECLUSTER_VIDEOS + 1)]
    with pytest.raises(grpc.RpcError) as over:
        list(stub.Recluster(identity_pb2.ReclusterRequest(video_ids=many), timeout=60))
    assert over.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert over.value.details() == ("video_ids: 100,001 videos: one Recluster takes at most 100,000 "
                                    "(call it for each part)")
    same = list(stub.Recluster(identity_pb2.ReclusterRequest(video_ids=["00000000000fffff"] * 200_000), timeout=60))
    assert same[0].changes.changed_videos == 0
