"""A failed call between our services is logged naming the service and the call, not only gRPC's words ("Stream
removed" said nothing of who went away). A real identity stand-in on a loopback port fails each kind of call."""

import logging
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from influencers.v1 import identity_pb2, identity_pb2_grpc, ingest_pb2
from services.common.call_names import failed_call
from services.common.clients import GrpcIdentity
from services.common.database import database_url, open_engine
from services.common.rpc import open_channel
from services.ingest.job_store import JobStore, migrate
from services.ingest.jobs import JobQueue

GONE = "Stream removed"  # what gRPC says when the peer went away mid-call


class Vanishing(identity_pb2_grpc.IdentityServiceServicer):
    """Identity going away: OpenBatch aborts as a dying peer does, Recluster after a first page; AnalyzeVideo takes
    the frames, then waits until the server under it is stopped."""

    def __init__(self) -> None:
        self.analysing = threading.Event()
        self.release = threading.Event()

    def OpenBatch(self, request, context):  # noqa: N802
        context.abort(grpc.StatusCode.UNAVAILABLE, GONE)

    def Recluster(self, request, context):  # noqa: N802
        yield identity_pb2.ReclusterResponse()
        if request.resync_only:
            context.abort(grpc.StatusCode.UNAVAILABLE, GONE)
        while context.is_active():  # pages until the caller cancels
            time.sleep(0.05)
            yield identity_pb2.ReclusterResponse()

    def AnalyzeVideo(self, request_iterator, context):  # noqa: N802
        for _ in request_iterator:
            pass
        self.analysing.set()
        self.release.wait(30)
        return identity_pb2.AnalyzeVideoResponse()


@pytest.fixture
def identity():
    servicer = Vanishing()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = open_channel(f"127.0.0.1:{port}", service="ingest")
    yield server, servicer, identity_pb2_grpc.IdentityServiceStub(channel)
    servicer.release.set()
    channel.close()
    server.stop(0)


def test_a_unary_call_that_failed_is_named_by_service_and_call(identity):
    _, _, stub = identity
    with pytest.raises(grpc.RpcError) as raised:
        stub.OpenBatch(identity_pb2.OpenBatchRequest(batch="b", worker="w"), timeout=10)
    assert failed_call(raised.value) == f"identity.OpenBatch failed: UNAVAILABLE {GONE}"


def test_a_response_stream_that_failed_midway_is_named_by_service_and_call(identity):
    _, _, stub = identity
    with pytest.raises(grpc.RpcError) as raised:
        list(GrpcIdentity(stub, 10).recluster([], resync_only=True))
    assert failed_call(raised.value) == f"identity.Recluster failed: UNAVAILABLE {GONE}"


def test_a_request_stream_whose_server_stopped_mid_call_is_named_by_service_and_call(identity):
    server, servicer, stub = identity
    outcome: dict[str, BaseException] = {}

    def analyse() -> None:
        try:
            stub.AnalyzeVideo(iter([identity_pb2.AnalyzeVideoRequest()]), timeout=20)
        except grpc.RpcError as exc:
            outcome["error"] = exc

    caller = threading.Thread(target=analyse)
    caller.start()
    assert servicer.analysing.wait(10)
    server.stop(0)  # identity goes away while the call is in flight
    caller.join(20)
    said = failed_call(outcome["error"])
    assert said.startswith("identity.AnalyzeVideo failed: "), said


def test_a_response_stream_the_caller_cancels_is_no_error_of_the_naming(identity, caplog):
    # Naming a failed call reads the ended call's exception, from gRPC's own thread: a cancelled one has none
    # (it raises FutureCancelledError), which must not become gRPC's "Exception calling callback" line.
    _, _, stub = identity
    caplog.set_level(logging.INFO)
    pages = stub.Recluster(identity_pb2.ReclusterRequest(), timeout=10)
    next(pages)
    pages.cancel()
    with pytest.raises(grpc.RpcError):
        list(pages)
    time.sleep(0.2)  # the callbacks run in gRPC's thread
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


class OpensOnIdentity:
    """A RowRunner whose batch opens on the identity stand-in (which refuses it); rows never run."""

    def __init__(self, stub: identity_pb2_grpc.IdentityServiceStub) -> None:
        self.identity = GrpcIdentity(stub, 10)
        self.opened = threading.Event()

    def open_batch(self) -> None:
        self.opened.set()
        self.identity.open_batch("b", "w")

    def close_batch(self) -> None: ...

    def run_row(self, claim, note_video):  # type: ignore[no-untyped-def]
        raise AssertionError("no row runs while identity refuses the batch")

    def reconcile(self, video_ids: list[str]) -> int:
        return 0


def _worker_step_failing_on_identity(stub, tmp_path: Path, caplog) -> ingest_pb2.Job:  # type: ignore[no-untyped-def]
    """The job of one row whose step failed at identity.OpenBatch, once ingest's worker has logged it."""
    caplog.set_level(logging.WARNING, logger="services.ingest.jobs")
    engine = open_engine(database_url("", tmp_path / "jobs.sqlite3"))
    migrate(engine)
    runner = OpensOnIdentity(stub)
    queue = JobQueue(JobStore(engine, lease_s=2.0), runner, "r:x", threads=1, idle_poll_s=0.05)
    try:
        job = queue.start(ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url="a.mp4")],
                                                        base_dir="/m"))
        assert runner.opened.wait(10)
        deadline = threading.Event()
        while "worker step failed" not in caplog.text and not deadline.wait(0.05):
            pass
    finally:
        queue.stop(timeout_s=5)
        engine.dispose()
    return job


def test_ingests_worker_names_the_identity_call_that_failed_not_only_grpcs_words(identity, tmp_path: Path, caplog):
    # Before: "ingest worker step failed: Stream removed; the row goes back to the queue, retrying".
    _worker_step_failing_on_identity(identity[2], tmp_path, caplog)
    assert (f"ingest worker step failed: identity.OpenBatch failed: UNAVAILABLE {GONE}; the row goes back to the "
            "queue, retrying") in caplog.text


def test_ingests_worker_names_the_job_and_row_it_gives_back_to_the_queue(identity, tmp_path: Path, caplog):
    # Before, the line named the call but not which row went back: with a fleet's rows in flight, none to follow.
    job = _worker_step_failing_on_identity(identity[2], tmp_path, caplog)
    (failed, *_) = [r for r in caplog.records if "worker step failed" in r.getMessage()]
    assert (failed.job_id, failed.row) == (job.job_id, 1)
