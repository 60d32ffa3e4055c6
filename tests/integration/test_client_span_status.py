"""Client spans of our gRPC calls: an expected answer (GetVideo's NOT_FOUND for a video not seen yet) is no error
in the trace; a real error is ERROR with a one-line description (loopback gRPC, in-memory span exporter)."""

import grpc
import pytest
from opentelemetry.trace import StatusCode

from influencers.v1 import analytics_pb2, analytics_pb2_grpc
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.rpc import build_server, open_channel
from services.common.settings import Settings

GET_VIDEO = "/influencers.v1.AnalyticsService/GetVideo"


@pytest.fixture
def analytics(tmp_path, spans):
    store = AnalyticsStore(tmp_path / "analytics.db")
    running = serve_analytics(Settings(analytics_port=0), store)
    channel = open_channel(f"127.0.0.1:{running.port}", service="ingest")
    yield analytics_pb2_grpc.AnalyticsServiceStub(channel)
    channel.close()
    running.stop(0)
    store.close()


def _client_span(spans, name):
    found = [s for s in spans.get_finished_spans()
             if s.name == name and s.resource.attributes["service.name"] == "influencers-ingest"]
    assert len(found) == 1
    return found[0]


def test_a_lookup_of_an_unknown_video_is_no_error_in_the_callers_trace(analytics, spans):
    with pytest.raises(grpc.RpcError) as answer:
        analytics.GetVideo(analytics_pb2.GetVideoRequest(video_id="ab" * 8), timeout=10)
    assert answer.value.code() == grpc.StatusCode.NOT_FOUND
    span = _client_span(spans, GET_VIDEO)
    assert span.status.status_code == StatusCode.UNSET
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert not span.events, "no exception event for an expected answer"


def test_a_failed_call_is_an_error_whose_description_is_one_line_naming_the_code(analytics, spans):
    with pytest.raises(grpc.RpcError) as refused:
        analytics.GetVideo(analytics_pb2.GetVideoRequest(video_id="not an id"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    span = _client_span(spans, GET_VIDEO)
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description.startswith("INVALID_ARGUMENT: ")
    assert "\n" not in span.status.description and "debug_error_string" not in span.status.description
    assert span.attributes["error.type"] == "INVALID_ARGUMENT"


def test_a_stream_that_fails_midway_is_an_error_whose_description_is_one_line(spans):
    def pages(request, context):
        yield b"first"
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the job was cancelled\nwhile it ran")

    def register(server):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "test.Pages", {"List": grpc.unary_stream_rpc_method_handler(pages)}),))
        return "test.Pages"

    running = build_server("analytics", "127.0.0.1", 0, [register])
    channel = open_channel(f"127.0.0.1:{running.port}", service="ingest")
    try:
        replies = channel.unary_stream("/test.Pages/List")(b"x", timeout=10)
        assert next(replies) == b"first"
        with pytest.raises(grpc.RpcError):
            next(replies)
    finally:
        channel.close()
        running.stop(0)
    span = _client_span(spans, "/test.Pages/List")
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "FAILED_PRECONDITION: the job was cancelled while it ran"
