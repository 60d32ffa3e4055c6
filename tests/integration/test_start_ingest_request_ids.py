"""StartIngest's idempotency key (request_id, AIP-155), called for real: ingest and analytics on loopback, the job
store in SQLite or PostgreSQL. A retry of a submission whose reply was lost (a 1 ms deadline) answers the job the
first call made, after a restart too; replicas sharing PostgreSQL racing with one key store one job; the key sent
with another request is refused naming it. Before, every call queued a job: a retry after a lost reply ran the
same rows twice."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from influencers.client import ingest_request, start_ingest
from influencers.v1 import ingest_pb2, ingest_pb2_grpc
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.database import database_url, open_engine
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.ingest.job_store import JobStore, QueueFull, migrate
from services.ingest.manifest import read_manifest
from services.ingest.request_ids import RequestIdReused
from tests.support.service_stubs import ingest_beside

RACERS = 8  # calls racing with one key, over two replicas
LOST_CALLS = 100  # calls with a 1 ms deadline at most, until one stored its job


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, analytics_port=0, ingest_port=0, identity_port=0)


@contextmanager
def analytics_for(settings: Settings) -> Iterator[int]:
    """An analytics service on the settings' database (SQLite in the data dir without one); yields its port."""
    store = AnalyticsStore(settings.database_url or settings.data_dir / "analytics.sqlite")
    running = serve_analytics(settings, store)
    try:
        yield running.port
    finally:
        running.stop(grace_s=0.5)
        store.close()


def submission(base_dir: Path, key: str, *urls: str) -> ingest_pb2.StartIngestRequest:
    videos = [ingest_pb2.VideoSubmission(url=url, line=k + 2) for k, url in enumerate(urls)]
    return ingest_pb2.StartIngestRequest(videos=videos, base_dir=str(base_dir), request_id=key)


def job_ids(stub: ingest_pb2_grpc.IngestServiceStub) -> list[str]:
    return [job.job_id for job in stub.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs]


def refusal(call, request) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)
    return caught.value


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_retry_after_a_one_millisecond_deadline_answers_the_one_job_even_after_a_restart(
        request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, engine: str) -> None:
    if engine == "postgresql":
        settings = settings.replace(database_url=request.getfixturevalue("postgres_url"))
    key = str(uuid.uuid4())
    asked = submission(tmp_path, key, "a.mp4", "b.mp4")
    with analytics_for(settings) as port:
        with ingest_beside(settings, port) as ingest:
            # The call goes out and its deadline passes before its reply can come back, until one of them was
            # stored anyway (about 1 in 3 is): the job the retry must find, not make again.
            for _ in range(LOST_CALLS):
                with pytest.raises(grpc.RpcError) as lost:
                    ingest.StartIngest(asked, timeout=0.001)
                assert lost.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, lost.value.details()
                if job_ids(ingest):
                    break
            assert len(job_ids(ingest)) == 1, f"no call of {LOST_CALLS} with a 1 ms deadline stored its job"
            job = ingest.StartIngest(asked, timeout=30).job
            again = ingest.StartIngest(asked, timeout=30).job
            assert again.job_id == job.job_id and job_ids(ingest) == [job.job_id]
        with ingest_beside(settings, port) as restarted:
            # Another spelling of the same UUID is the same key.
            asked.request_id = "{" + key.upper() + "}"
            assert restarted.StartIngest(asked, timeout=30).job.job_id == job.job_id
            other = submission(tmp_path, key, "a.mp4", "c.mp4")
            error = refusal(restarted.StartIngest, other)
            assert error.code() == grpc.StatusCode.ALREADY_EXISTS, error.details()
            assert f"request_id {key} was sent before with another request, which made job {job.job_id}" in \
                error.details()
            assert job_ids(restarted) == [job.job_id]


def test_replicas_on_postgresql_racing_with_one_key_store_one_job_and_answer_it_to_every_caller(
        settings: Settings, postgres_url: str, tmp_path: Path) -> None:
    settings = settings.replace(database_url=postgres_url)
    asked = submission(tmp_path, str(uuid.uuid4()), "a.mp4")
    with analytics_for(settings) as port, \
            ingest_beside(settings.replace(worker_name="ingest-1"), port) as one, \
            ingest_beside(settings.replace(worker_name="ingest-2"), port) as two:
        start = threading.Barrier(RACERS)
        answers: list[str] = []

        def race(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
            start.wait()
            answers.append(stub.StartIngest(asked, timeout=60).job.job_id)

        threads = [threading.Thread(target=race, args=(one if k % 2 else two,)) for k in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == RACERS and len(set(answers)) == 1, answers
        assert job_ids(one) == job_ids(two) == answers[:1]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_job_store_answers_a_stored_key_even_with_its_queue_full_and_refuses_it_for_another_request(
        request: pytest.FixtureRequest, tmp_path: Path, engine: str) -> None:
    given = request.getfixturevalue("postgres_url") if engine == "postgresql" else ""
    store = JobStore(open_engine(database_url(given, tmp_path / "jobs.sqlite3")), max_active_jobs=1)
    migrate(store.engine)
    try:
        key = str(uuid.uuid4())
        job, stored = store.submitted(submission(tmp_path, key, "a.mp4"), {})
        assert stored
        again, stored = store.submitted(submission(tmp_path, key, "a.mp4"), {})
        assert (again.job_id, stored) == (job.job_id, False), "answered although the queue is full"
        with pytest.raises(QueueFull):
            store.submit(submission(tmp_path, str(uuid.uuid4()), "a.mp4"), {})
        with pytest.raises(RequestIdReused, match=f"which made job {job.job_id}"):
            store.submit(submission(tmp_path, key, "b.mp4"), {})
        assert [j.job_id for j in store.list()] == [job.job_id]
    finally:
        store.engine.dispose()


def test_a_key_that_is_no_uuid_is_refused_naming_it_and_starts_no_job(settings: Settings, tmp_path: Path) -> None:
    with analytics_for(settings) as port, ingest_beside(settings, port) as ingest:
        error = refusal(ingest.StartIngest, submission(tmp_path, "retry-1", "a.mp4"))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details().startswith("request_id 'retry-1' is not a UUID"), error.details()
        assert job_ids(ingest) == []


def test_the_cli_makes_a_key_of_its_own_for_each_submission(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("Performance,Video URL\n1.5,a.mp4\n")
    rows = read_manifest(manifest)
    first, second = ingest_request(manifest, rows), ingest_request(manifest, rows)
    assert uuid.UUID(first.request_id) and first.request_id != second.request_id
    second.request_id = first.request_id
    assert first == second, "apart from its key, a submission's request is the same each time"


class Refusing(ingest_pb2_grpc.IngestServiceServicer):
    """An ingest that answers StartIngest with `refusals` (status, details) in turn, then a job; it keeps the key
    of every call."""

    def __init__(self, refusals: list[tuple[grpc.StatusCode, str]]) -> None:
        self.refusals = refusals
        self.keys: list[str] = []

    def StartIngest(self, request, context):  # noqa: N802 - the service's name
        self.keys.append(request.request_id)
        if len(self.keys) <= len(self.refusals):
            context.abort(*self.refusals[len(self.keys) - 1])
        return ingest_pb2.StartIngestResponse(job=ingest_pb2.Job(job_id="j1", state=ingest_pb2.JOB_STATE_QUEUED))


@contextmanager
def refusing(refusals: list[tuple[grpc.StatusCode, str]]) -> Iterator[tuple[Refusing, grpc.Channel]]:
    servicer = Refusing(refusals)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    try:
        yield servicer, channel
    finally:
        channel.close()
        server.stop(0)


BUSY = (grpc.StatusCode.RESOURCE_EXHAUSTED, "ingest is busy: it takes 4 submissions at once, its limit")
DROPPED = (grpc.StatusCode.UNAVAILABLE, "Socket closed")


def test_the_cli_sends_its_submission_again_with_its_one_key_while_busy_and_after_a_dropped_connection(
        tmp_path: Path) -> None:
    # Busy: start_ingest sends it again. UNAVAILABLE: the channel's own retry policy (services/common/rpc.py) does,
    # which made a second job of a call that had stored one before the key.
    manifest = tmp_path / "m.csv"
    manifest.write_text("Performance,Video URL\n1.5,a.mp4\n")
    with refusing([BUSY, DROPPED, BUSY, DROPPED]) as (ingest, channel):
        assert start_ingest(channel, manifest, 30).job_id == "j1"
    assert len(ingest.keys) == 5 and len(set(ingest.keys)) == 1 and uuid.UUID(ingest.keys[0])


def test_the_queue_takes_the_digest_its_caller_hashed_and_a_stopping_replica_still_answers_a_retry(
        tmp_path: Path) -> None:
    # StartIngest hashed a request with a key twice (its look for a retry, then its store): ~0.3 s each for 32 MiB.
    # The servicer now hashes it once and gives the digest to both: the one given is the one compared and stored.
    from services.ingest.jobs import JobQueue
    from services.ingest.request_ids import request_digest
    from tests.unit.test_job_queue import Scripted

    store = JobStore(open_engine(database_url("", tmp_path / "jobs.sqlite3")))
    migrate(store.engine)
    queue = JobQueue(store, Scripted(), "r0:x", threads=1, idle_poll_s=0.01)
    try:
        sent = submission(tmp_path, str(uuid.uuid4()), "a.mp4")
        job = queue.start(sent, "f" * 64)  # not the request's digest: stored as given, not hashed again
        with pytest.raises(RequestIdReused):
            queue.earlier(sent)  # hashed here: another digest than the one stored
        assert queue.earlier(sent, "f" * 64).job_id == job.job_id
        other = submission(tmp_path, str(uuid.uuid4()), "b.mp4")
        stored = queue.start(other, request_digest(other))
        queue.stop(timeout_s=5)
        # The look before start(): a retry is answered its job by a replica that is stopping; a new job is not taken
        assert queue.earlier(other, request_digest(other)).job_id == stored.job_id
        with pytest.raises(RuntimeError, match="stopping"):
            queue.start(submission(tmp_path, str(uuid.uuid4()), "c.mp4"))
    finally:
        queue.stop(timeout_s=5)
        store.engine.dispose()


def test_the_same_submission_asked_to_resume_follows_its_unfinished_job_and_never_an_ended_or_cancelled_one(
        settings: Settings, tmp_path: Path) -> None:
    """A manifest run again after its `influencers run` was killed (its key new, its rows the same): the job it
    left, not a twin queued behind it. Its rows are held in flight by a server that takes the connection and
    never answers, so that the job stays unfinished while it is asked again."""
    settings = settings.replace(allow_private_urls=True)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepted by the kernel, never answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/a.mp4"

        def asked(resume: bool = True, *urls: str) -> ingest_pb2.StartIngestRequest:
            sent = submission(tmp_path, str(uuid.uuid4()), *(urls or (url,)))
            sent.resume_unfinished = resume
            return sent

        with analytics_for(settings) as port, ingest_beside(settings, port) as ingest:
            first = ingest.StartIngest(asked(), timeout=30)
            assert not first.resumed
            again = ingest.StartIngest(asked(), timeout=30)
            assert again.resumed and again.job.job_id == first.job.job_id and job_ids(ingest) == [first.job.job_id]
            # Without the flag, or with other rows: a job of its own, as before.
            twin = ingest.StartIngest(asked(False), timeout=30)
            other = ingest.StartIngest(asked(True, url, url.replace("a.mp4", "b.mp4")), timeout=30)
            assert not twin.resumed and not other.resumed
            assert len({first.job.job_id, twin.job.job_id, other.job.job_id}) == 3
            # A cancelled job is never resumed: the oldest unfinished one of those rows is.
            ingest.CancelJob(ingest_pb2.CancelJobRequest(job_id=first.job.job_id), timeout=30)
            after_cancel = ingest.StartIngest(asked(), timeout=30)
            assert after_cancel.resumed and after_cancel.job.job_id == twin.job.job_id
            ingest.CancelJob(ingest_pb2.CancelJobRequest(job_id=twin.job.job_id), timeout=30)
            fresh = ingest.StartIngest(asked(), timeout=30)
            assert not fresh.resumed and fresh.job.job_id not in (first.job.job_id, twin.job.job_id)


RESUME_ROUNDS = 6  # rounds of racers, each of rows of its own (one job each)


def resume_race(stubs: list[ingest_pb2_grpc.IngestServiceStub], requests: list[ingest_pb2.StartIngestRequest]
                ) -> list[ingest_pb2.StartIngestResponse]:
    """Each of `requests` sent at the same instant to the stubs in turn (as many at once as one replica takes,
    server.MAX_SUBMISSIONS, each); the answers."""
    start = threading.Barrier(len(requests))
    answers: list[ingest_pb2.StartIngestResponse] = []

    def race(stub: ingest_pb2_grpc.IngestServiceStub, sent: ingest_pb2.StartIngestRequest) -> None:
        start.wait()
        answers.append(stub.StartIngest(sent, timeout=60))

    threads = [threading.Thread(target=race, args=(stubs[k % len(stubs)], sent)) for k, sent in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_identical_submissions_asked_to_resume_at_the_same_instant_queue_one_job_on_one_or_two_replicas(
        request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, engine: str) -> None:
    """A manifest run again twice at once (each `influencers run` with a key of its own): one job, which every
    caller follows, the others told it was resumed. The look for an unfinished job of those rows was outside the
    insert's transaction: racers that all looked before any inserted each queued a twin. SQLite: one replica;
    PostgreSQL: two replicas sharing it. The rows are held in flight by a server that never answers."""
    from services.ingest.server import MAX_SUBMISSIONS

    settings = settings.replace(allow_private_urls=True)
    replicas = 1
    if engine == "postgresql":
        settings, replicas = settings.replace(database_url=request.getfixturevalue("postgres_url")), 2
    with socket.create_server(("127.0.0.1", 0)) as silent, analytics_for(settings) as port, \
            ingest_beside(settings.replace(worker_name="ingest-1"), port) as one, \
            ingest_beside(settings.replace(worker_name="ingest-2"), port) as two:
        stubs = [one, two][:replicas]
        for round_ in range(RESUME_ROUNDS):
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/r{round_}.mp4"
            racers = [submission(tmp_path, str(uuid.uuid4()), url) for _ in range(MAX_SUBMISSIONS * replicas)]
            for sent in racers:
                sent.resume_unfinished = True
            answers = resume_race(stubs, racers)
            assert len({a.job.job_id for a in answers}) == 1, f"round {round_}: {[a.job.job_id for a in answers]}"
            assert sorted(a.resumed for a in answers) == [False] + [True] * (len(racers) - 1)
        assert len(job_ids(one)) == RESUME_ROUNDS
