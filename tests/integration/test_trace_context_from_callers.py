"""What a caller sends as trace context (W3C `traceparent`, `tracestate`, `baggage` in the gRPC metadata) when it is
malformed: the call is answered as any other, its span starts a trace of its own (never a child of junk), and the
log gets at most a short line a minute about it however many bad entries arrive (loopback gRPC, in-memory spans)."""

import logging

import grpc
import pytest

from services.common import tracing
from services.common.rpc import build_server

TRACE_ID, SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
GOOD = f"00-{TRACE_ID}-{SPAN_ID}-01"
MALFORMED = {
    "not hex": "00-xyz",
    "an all-zero trace id": f"00-{'0' * 32}-{SPAN_ID}-01",
    "an all-zero parent id": f"00-{TRACE_ID}-{'0' * 16}-01",
    "the forbidden version ff": f"ff-{TRACE_ID}-{SPAN_ID}-01",
    "upper-case hex": GOOD.upper(),
    "a version 00 with a fifth field": f"{GOOD}-extra",
    "a short parent id": f"00-{TRACE_ID}-{SPAN_ID[:8]}-01",
}


@pytest.fixture
def echo(spans):
    def answer(request, context):
        return request

    def register(server):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(answer)}),))
        return "test.Echo"

    running = build_server("analytics", "127.0.0.1", 0, [register])
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")  # untraced: the metadata is the test's alone
    call = channel.unary_unary("/test.Echo/Say")

    def say(metadata):
        spans.clear()
        assert call(b"hi", metadata=metadata, timeout=10) == b"hi"
        (span,) = [s for s in spans.get_finished_spans() if s.name == "/test.Echo/Say"]
        return span

    yield say
    channel.close()
    running.stop(0)


def test_a_well_formed_traceparent_makes_the_servers_span_the_callers_child(echo):
    span = echo([("traceparent", GOOD)])
    assert format(span.context.trace_id, "032x") == TRACE_ID and format(span.parent.span_id, "016x") == SPAN_ID


@pytest.mark.parametrize("what", MALFORMED)
def test_a_malformed_traceparent_is_answered_and_its_span_starts_a_trace_of_its_own(echo, what):
    span = echo([("traceparent", MALFORMED[what])])
    assert span.parent is None, what
    assert span.context.is_valid and format(span.context.trace_id, "032x") != TRACE_ID


def test_hundreds_of_bad_baggage_entries_cost_the_log_at_most_one_short_line(echo):
    kept: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = kept.append  # type: ignore[method-assign]
    loggers = [logging.getLogger(name) for name in tracing.PROPAGATION_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        for _ in range(3):  # 100 bad entries each (OpenTelemetry logs a line for every one), a bad tracestate
            span = echo([("traceparent", GOOD), ("tracestate", "=,bad key=1"), ("baggage", "=%;" * 100)])
            assert format(span.context.trace_id, "032x") == TRACE_ID, "the trace context itself is kept"
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    # One a minute a logger (none when an earlier test of this process let its line through less than a minute ago).
    assert len(kept) <= len(loggers), [r.getMessage() for r in kept]
    assert all(len(r.getMessage()) < 2 * tracing.PROPAGATION_LINE_CHARS for r in kept)
