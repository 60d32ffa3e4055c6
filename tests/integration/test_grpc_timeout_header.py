"""A `grpc-timeout` header no gRPC client sends (`abc`, `-5S`, eleven digits), sent over plain HTTP/2 to a real
analytics server: what gRPC's C core answers, measured (docs/security.md, "Bounded resources"). The core parses the
header before any Python code runs and strips it from the metadata: an interceptor sees the call with no timeout at
all and no handler runs, so the status (INTERNAL) is the core's, not ours to change. The server keeps answering."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.settings import Settings

METHOD = "/influencers.v1.AnalyticsService/GetFeedPosition"  # an empty request, answered at once
EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"  # gRPC's framing: not compressed, 0 bytes


@pytest.fixture
def analytics_port(tmp_path: Path) -> Iterator[int]:
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    running = serve_analytics(Settings(data_dir=tmp_path, analytics_port=0), store)
    yield running.port
    running.stop(grace_s=0.5)
    store.close()


def call_with_timeout_header(port: int, timeout: str, method: str = METHOD) -> dict[str, str]:
    """The response's headers and trailers of one unary call of `method` whose `grpc-timeout` header is
    `timeout`."""
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        connection.initiate_connection()
        stream = connection.get_next_available_stream_id()
        connection.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":path", method),
                                         (":authority", f"127.0.0.1:{port}"), ("content-type", "application/grpc"),
                                         ("te", "trailers"), ("grpc-timeout", timeout)])
        connection.send_data(stream, EMPTY_MESSAGE, end_stream=True)
        sock.sendall(connection.data_to_send())
        answer: dict[str, str] = {}
        while True:
            data = sock.recv(65536)
            if not data:
                return answer
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    answer.update(event.headers)
                if isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    return answer
            sock.sendall(connection.data_to_send())


@pytest.mark.parametrize("timeout", ["abc", "-5S"])
def test_a_grpc_timeout_that_is_no_duration_is_answered_internal_by_the_core_and_the_server_goes_on(
        analytics_port: int, timeout: str) -> None:
    answer = call_with_timeout_header(analytics_port, timeout)
    assert answer.get("grpc-status") == "13", answer  # INTERNAL
    assert answer.get("grpc-message") == "Error parsing 'grpc-timeout' metadata", answer
    assert call_with_timeout_header(analytics_port, "10S").get("grpc-status") == "0"


def test_a_grpc_timeout_of_more_digits_than_the_protocol_allows_is_read_as_no_deadline(analytics_port: int) -> None:
    # The protocol allows 8 digits; the core takes 11 and answers the call as if it had no deadline.
    assert call_with_timeout_header(analytics_port, "99999999999S").get("grpc-status") == "0"


class Recorded(grpc.ServerInterceptor):
    """Keeps the metadata of every call it sees."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
        self.calls.append([m.key for m in details.invocation_metadata])
        return continuation(details)


def test_python_sees_a_bogus_grpc_timeout_as_no_header_and_runs_no_handler_so_cannot_answer_otherwise() -> None:
    handled: list[float | None] = []

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        handled.append(context.time_remaining())
        return b""

    interceptor = Recorded()
    server = grpc.server(futures.ThreadPoolExecutor(2), interceptors=[interceptor], handlers=[
        grpc.method_handlers_generic_handler("t.T", {"Call": grpc.unary_unary_rpc_method_handler(handler)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        bogus = call_with_timeout_header(port, "abc", "/t.T/Call")
        good = call_with_timeout_header(port, "10S", "/t.T/Call")
    finally:
        server.stop(0)
    assert bogus.get("grpc-status") == "13" and good.get("grpc-status") == "0"
    assert len(interceptor.calls) == 2 and not any("grpc-timeout" in keys for keys in interceptor.calls)
    assert len(handled) == 1 and handled[0] is not None and 0 < handled[0] <= 10, "only the good call was handled"
