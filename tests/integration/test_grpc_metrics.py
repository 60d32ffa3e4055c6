"""The gRPC interceptors of services/common/grpc_metrics.py on a loopback server built by build_server and a
channel of open_channel: every kind of RPC (unary, client-, server- and bidi-streaming) counted on both
sides with its status code, timed, and its messages counted; health included."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from services.common.rpc import build_server, open_channel

SERVICE = "test.v1.Echo"


def _same(x: bytes) -> bytes:
    return x


def _echo(request, context):
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    if request == b"boom":
        raise RuntimeError("an unexpected failure")
    return request


def _collect(requests, context):
    return b"".join(requests)


def _repeat(request, context):
    for _ in range(3):
        yield request


def _chat(requests, context):
    yield from requests


def _register(server: grpc.Server) -> str:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo, _same, _same),
        "Collect": grpc.stream_unary_rpc_method_handler(_collect, _same, _same),
        "Repeat": grpc.unary_stream_rpc_method_handler(_repeat, _same, _same),
        "Chat": grpc.stream_stream_rpc_method_handler(_chat, _same, _same),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    return SERVICE


@pytest.fixture
def echo():
    running = build_server("echo", "127.0.0.1", 0, [_register], max_workers=4)
    channel = open_channel(f"127.0.0.1:{running.port}")
    yield channel
    channel.close()
    running.stop(0)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Sample values now, to compare with later ones (the registry is the process's: other tests count too)."""

    def __init__(self, *keys: tuple[str, dict]) -> None:
        self.keys = keys
        self.before = [value(n, **labels) for n, labels in keys]

    def after(self) -> list[float]:
        return [value(n, **labels) - b for (n, labels), b in zip(self.keys, self.before, strict=True)]


def labels(kind: str, method: str, code: str | None = None) -> dict:
    out = {"grpc_type": kind, "grpc_service": SERVICE, "grpc_method": method}
    return out if code is None else {**out, "grpc_code": code}


def test_a_unary_call_is_counted_started_handled_ok_and_timed_on_server_and_client(echo):
    d = Delta(("grpc_server_started_total", labels("UNARY", "Echo")),
              ("grpc_server_handled_total", labels("UNARY", "Echo", "OK")),
              ("grpc_server_handling_seconds_count", labels("UNARY", "Echo")),
              ("grpc_server_msg_received_total", labels("UNARY", "Echo")),
              ("grpc_server_msg_sent_total", labels("UNARY", "Echo")),
              ("grpc_client_started_total", labels("UNARY", "Echo")),
              ("grpc_client_handled_total", labels("UNARY", "Echo", "OK")),
              ("grpc_client_handling_seconds_count", labels("UNARY", "Echo")))
    assert echo.unary_unary(f"/{SERVICE}/Echo")(b"hi", timeout=10) == b"hi"
    assert d.after() == [1, 1, 1, 1, 1, 1, 1, 1]


def test_an_aborted_call_and_an_unexpected_exception_are_counted_with_their_codes(echo):
    d = Delta(("grpc_server_handled_total", labels("UNARY", "Echo", "NOT_FOUND")),
              ("grpc_server_handled_total", labels("UNARY", "Echo", "INTERNAL")),
              ("grpc_client_handled_total", labels("UNARY", "Echo", "NOT_FOUND")),
              ("grpc_client_handled_total", labels("UNARY", "Echo", "INTERNAL")),
              ("grpc_server_handled_total", labels("UNARY", "Echo", "OK")))
    call = echo.unary_unary(f"/{SERVICE}/Echo")
    for request, code in ((b"missing", grpc.StatusCode.NOT_FOUND), (b"boom", grpc.StatusCode.INTERNAL)):
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=10)
        assert caught.value.code() == code
    assert d.after() == [1, 1, 1, 1, 0]


def test_a_client_stream_counts_each_message_received(echo):
    d = Delta(("grpc_server_msg_received_total", labels("CLIENT_STREAM", "Collect")),
              ("grpc_server_handled_total", labels("CLIENT_STREAM", "Collect", "OK")),
              ("grpc_client_handled_total", labels("CLIENT_STREAM", "Collect", "OK")))
    assert echo.stream_unary(f"/{SERVICE}/Collect")(iter([b"a", b"b", b"c", b"d"]), timeout=10) == b"abcd"
    assert d.after() == [4, 1, 1]


def test_a_server_stream_counts_each_message_sent_and_its_end(echo):
    d = Delta(("grpc_server_msg_sent_total", labels("SERVER_STREAM", "Repeat")),
              ("grpc_server_handled_total", labels("SERVER_STREAM", "Repeat", "OK")),
              ("grpc_client_handled_total", labels("SERVER_STREAM", "Repeat", "OK")),
              ("grpc_client_handling_seconds_count", labels("SERVER_STREAM", "Repeat")))
    replies = echo.unary_stream(f"/{SERVICE}/Repeat")(b"x", timeout=10)
    assert list(replies) == [b"x"] * 3
    assert replies.code() == grpc.StatusCode.OK, "the client's call is handed on untouched"
    assert d.after() == [3, 1, 1, 1]


def test_a_bidi_stream_is_counted_as_one(echo):
    d = Delta(("grpc_server_started_total", labels("BIDI_STREAM", "Chat")),
              ("grpc_server_msg_received_total", labels("BIDI_STREAM", "Chat")),
              ("grpc_server_msg_sent_total", labels("BIDI_STREAM", "Chat")),
              ("grpc_client_handled_total", labels("BIDI_STREAM", "Chat", "OK")))
    assert list(echo.stream_stream(f"/{SERVICE}/Chat")(iter([b"1", b"2"]), timeout=10)) == [b"1", b"2"]
    assert d.after() == [1, 2, 2, 1]


def test_health_checks_are_counted_and_an_unknown_method_adds_no_label_value(echo):
    health = {"grpc_type": "UNARY", "grpc_service": "grpc.health.v1.Health", "grpc_method": "Check",
              "grpc_code": "OK"}
    d = Delta(("grpc_server_handled_total", health))
    health_pb2_grpc.HealthStub(echo).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert d.after() == [1]
    with pytest.raises(grpc.RpcError) as caught:
        echo.unary_unary(f"/{SERVICE}/NoSuchMethod")(b"", timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert value("grpc_server_started_total", **labels("UNARY", "NoSuchMethod")) == 0


def test_a_call_refused_for_its_token_is_counted_unauthenticated():
    running = build_server("echo", "127.0.0.1", 0, [_register], token="s3cret", max_workers=2)
    channel = open_channel(f"127.0.0.1:{running.port}")  # no token
    try:
        d = Delta(("grpc_server_handled_total", labels("UNARY", "Echo", "UNAUTHENTICATED")))
        with pytest.raises(grpc.RpcError):
            channel.unary_unary(f"/{SERVICE}/Echo")(b"hi", timeout=10)
        assert d.after() == [1]
    finally:
        channel.close()
        running.stop(0)


def test_readiness_shows_as_influencers_ready_by_server_name(echo):
    assert value("influencers_ready", service="echo") == 1
