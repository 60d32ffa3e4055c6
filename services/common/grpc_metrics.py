"""gRPC metrics in the grpc-ecosystem convention (go-grpc-prometheus, py-grpc-prometheus): a server interceptor
and a client interceptor counting every RPC (`grpc_server_started_total`, `grpc_server_handled_total` by
status code, `grpc_server_handling_seconds`, messages in and out; `grpc_client_*` the same), streaming RPCs
included. Labels: grpc_type (UNARY, CLIENT_STREAM, SERVER_STREAM, BIDI_STREAM), grpc_service (the full name,
`influencers.v1.IdentityService`), grpc_method and grpc_code (`OK`, `NOT_FOUND`...). Only methods a server
has are counted, so the label values are bounded by the protos."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import grpc

from services.common.grpc_types import ClientContinuation, ServerContinuation
from services.common.method_handlers import rewrapped
from services.common.metrics import families

UNARY, CLIENT_STREAM, SERVER_STREAM, BIDI_STREAM = "UNARY", "CLIENT_STREAM", "SERVER_STREAM", "BIDI_STREAM"


def grpc_type(request_streaming: bool, response_streaming: bool) -> str:
    if request_streaming:
        return BIDI_STREAM if response_streaming else CLIENT_STREAM
    return SERVER_STREAM if response_streaming else UNARY


def split_method(full_method: str) -> tuple[str, str]:
    """`/influencers.v1.IdentityService/AnalyzeVideo` -> (`influencers.v1.IdentityService`, `AnalyzeVideo`)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"


class _Series(NamedTuple):
    """One method's series on one side (server or client): looked up once, not at every call or message."""

    started: Any
    received: Any
    sent: Any
    seconds: Any
    labels: tuple[str, str, str]


# Bounded by the methods of the protos (only methods a server has, or our stubs call, are measured).
@functools.lru_cache(maxsize=1024)
def _server_series(labels: tuple[str, str, str]) -> _Series:
    m = families()
    return _Series(m.grpc_server_started.labels(*labels), m.grpc_server_received.labels(*labels),
                   m.grpc_server_sent.labels(*labels), m.grpc_server_seconds.labels(*labels), labels)


@functools.lru_cache(maxsize=1024)
def _client_series(labels: tuple[str, str, str]) -> _Series:
    m = families()
    return _Series(m.grpc_client_started.labels(*labels), None, None, m.grpc_client_seconds.labels(*labels), labels)


@functools.lru_cache(maxsize=4096)
def _handled(side: str, labels: tuple[str, str, str], code: str) -> Any:
    m = families()
    return (m.grpc_server_handled if side == "server" else m.grpc_client_handled).labels(*labels, code)


class _Call:
    """One server-side RPC being measured: started at construction, handled once by `end(code)`."""

    def __init__(self, series: _Series) -> None:
        self._series = series
        self._t0 = time.perf_counter()
        self._ended = False
        series.started.inc()

    def received(self) -> None:
        self._series.received.inc()

    def sent(self) -> None:
        self._series.sent.inc()

    def end(self, code: grpc.StatusCode) -> None:
        if self._ended:
            return
        self._ended = True
        _handled("server", self._series.labels, code.name).inc()
        self._series.seconds.observe(time.perf_counter() - self._t0)


def _code(context: grpc.ServicerContext, default: grpc.StatusCode) -> grpc.StatusCode:
    """The status the servicer set (abort, set_code), else `default`."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return default if context.is_active() else grpc.StatusCode.CANCELLED


class ServerMetrics(grpc.ServerInterceptor):
    """Counts and times every RPC the server handles; placed first among the interceptors, so that a call
    refused by the token check or answered INTERNAL by the error guard is counted with its real code."""

    def intercept_service(self, continuation: ServerContinuation, handler_call_details: grpc.HandlerCallDetails
                          ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED; its name is not a label value
            return None
        service, method = split_method(handler_call_details.method)
        series = _server_series((grpc_type(handler.request_streaming, handler.response_streaming), service, method))
        return rewrapped(handler, lambda behavior: _measured(behavior, series, handler.request_streaming,
                                                             handler.response_streaming))


def _measured(behavior: Callable, series: _Series, request_streaming: bool,  # type: ignore[type-arg]
              response_streaming: bool) -> Callable:  # type: ignore[type-arg]
    def requests(call: _Call, request: Any) -> Any:
        if not request_streaming:
            call.received()
            return request
        return _counted(request, call.received)

    if response_streaming:
        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            call = _Call(series)
            try:
                for response in behavior(requests(call, request), context):
                    call.sent()
                    yield response
            except GeneratorExit:  # the client went away (or the deadline passed) while we streamed
                call.end(grpc.StatusCode.CANCELLED)
                raise
            except BaseException:
                call.end(_code(context, grpc.StatusCode.UNKNOWN))
                raise
            call.end(_code(context, grpc.StatusCode.OK))

        return stream

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        call = _Call(series)
        try:
            response = behavior(requests(call, request), context)
        except BaseException:
            call.end(_code(context, grpc.StatusCode.UNKNOWN))
            raise
        call.sent()
        call.end(_code(context, grpc.StatusCode.OK))
        return response

    return unary


def _counted(iterator: Iterator[Any], count: Callable[[], None]) -> Iterator[Any]:
    for item in iterator:
        count()
        yield item


class ClientMetrics(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                    grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Counts and times every RPC a channel makes, by its final status (read from the call's done callback,
    so the response stream of a streaming call is handed on untouched: cancel(), code() and the rest work)."""

    def _measure(self, details: grpc.ClientCallDetails, kind: str, start: Callable[[], Any]) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        series = _client_series((kind, *split_method(method)))
        series.started.inc()
        t0 = time.perf_counter()

        def done(call: Any) -> None:
            try:
                code = call.code()
            except Exception:  # noqa: BLE001 - an outcome without a code: counted as UNKNOWN, never raised here
                code = grpc.StatusCode.UNKNOWN
            name = code.name if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN.name
            _handled("client", series.labels, name).inc()
            series.seconds.observe(time.perf_counter() - t0)

        call = start()
        call.add_done_callback(done)
        return call

    def intercept_unary_unary(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        return self._measure(details, UNARY, lambda: continuation(details, request))

    def intercept_unary_stream(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        return self._measure(details, SERVER_STREAM, lambda: continuation(details, request))

    def intercept_stream_unary(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                               request_iterator: Iterator[Any]) -> Any:
        return self._measure(details, CLIENT_STREAM, lambda: continuation(details, request_iterator))

    def intercept_stream_stream(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                                request_iterator: Iterator[Any]) -> Any:
        return self._measure(details, BIDI_STREAM, lambda: continuation(details, request_iterator))
