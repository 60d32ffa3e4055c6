"""Each service writes its own data dir as DATA in the details of the errors it answers: in a fleet its callers
run elsewhere, with data dirs of their own, and ingest could only hide its own (loopback gRPC, build_server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from services.common.call_names import failed_call
from services.common.damage import DiskFull, StoreDamaged
from services.common.rpc import build_server, open_channel
from tests.support.rpc_errors import refusal


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "identity-data"
    folder.mkdir()
    return folder


@pytest.fixture
def service(data_dir: Path) -> Iterator[grpc.Channel]:
    """A server of ours whose handlers fail on files of its data dir, as identity's do on a damaged store or a
    full disk (raised, or answered by the servicer itself)."""

    def damaged(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise StoreDamaged(f"face store {data_dir}/qdrant/edge/faces cannot be read (...); restore "
                           f"{data_dir}/qdrant/edge from a backup, or remove it and ingest again")

    def full(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise DiskFull(f"disk full: the disk of {data_dir} has 1 MiB free, under the 256 MiB kept free")

    def refused(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"video 00000000000000ff: cannot spool in {data_dir}/tmp")
        raise AssertionError("abort returns never")

    def damaged_later(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield b"first"
        raise StoreDamaged(f"change feed {data_dir}/identity/feed.sqlite3 cannot be read")

    def fail(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise RuntimeError("a bug")

    def unreachable(request: bytes, context: grpc.ServicerContext) -> bytes:  # as rpc.py answers an outage
        context.abort(grpc.StatusCode.UNAVAILABLE, "Unreachable: the database is unreachable")
        raise AssertionError("abort returns never")

    def register(server: grpc.Server) -> str:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("influencers.v1.IdentityService", {
            "Damaged": grpc.unary_unary_rpc_method_handler(damaged),
            "Full": grpc.unary_unary_rpc_method_handler(full),
            "Refused": grpc.unary_unary_rpc_method_handler(refused),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Unreachable": grpc.unary_unary_rpc_method_handler(unreachable),
            "DamagedLater": grpc.unary_stream_rpc_method_handler(damaged_later)}),))
        return "influencers.v1.IdentityService"

    running = build_server("identity", "127.0.0.1", 0, [register], data_dir=data_dir)
    channel = open_channel(f"127.0.0.1:{running.port}")
    yield channel
    channel.close()
    running.stop(grace_s=0.5)


@pytest.mark.parametrize(("method", "code", "details"), [
    ("Damaged", grpc.StatusCode.DATA_LOSS, "face store DATA/qdrant/edge/faces cannot be read (...); restore "
                                           "DATA/qdrant/edge from a backup, or remove it and ingest again"),
    ("Full", grpc.StatusCode.RESOURCE_EXHAUSTED, "disk full: the disk of DATA has 1 MiB free, under the 256 MiB "
                                                 "kept free"),
    ("Refused", grpc.StatusCode.RESOURCE_EXHAUSTED, "video 00000000000000ff: cannot spool in DATA/tmp"),
])
def test_an_error_a_service_answers_names_its_own_data_dir_as_data_not_its_absolute_path(
        service, data_dir, method, code, details):
    # Before: the path as the server has it, which means nothing on the caller's machine (only ingest hid its own).
    error = refusal(service.unary_unary(f"/influencers.v1.IdentityService/{method}"), b"x")
    assert error.code() == code and error.details() == details
    assert str(data_dir) not in failed_call(error)


def test_a_streaming_calls_error_names_the_data_dir_as_data_too(service, data_dir):
    replies = service.unary_stream("/influencers.v1.IdentityService/DamagedLater")(b"x", timeout=30)
    assert next(replies) == b"first"
    with pytest.raises(grpc.RpcError) as caught:
        next(replies)
    assert caught.value.details() == "change feed DATA/identity/feed.sqlite3 cannot be read"


def test_an_internal_error_of_a_row_names_the_call_once(service):
    # Before: "identity.Fail failed: INTERNAL internal error in Fail (the service's log has the details)".
    error = refusal(service.unary_unary("/influencers.v1.IdentityService/Fail"), b"x")
    assert failed_call(error) == "identity.Fail failed: INTERNAL internal error (the service's log has the details)"


def test_an_outage_of_a_services_database_names_the_call_once(service):
    # Before: "identity.Unreachable failed: UNAVAILABLE Unreachable: the database is unreachable".
    error = refusal(service.unary_unary("/influencers.v1.IdentityService/Unreachable"), b"x")
    assert failed_call(error) == "identity.Unreachable failed: UNAVAILABLE the database is unreachable"
    assert error.details() == "Unreachable: the database is unreachable", "the page shows the details alone"
