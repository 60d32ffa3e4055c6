"""The status of our gRPC client spans: an answer the caller expects is no error, and an error is one line.

opentelemetry-instrumentation-grpc marks every client span whose call ends in a code other than OK as ERROR, its
description the RpcError's five-line repr. OpenTelemetry's conventions say the classification depends on the
context ("Recording errors": a 404 is no error when the application is only checking whether the resource exists;
instrumentation with that context SHOULD use it): ingest's GetVideo is such a check, NOT_FOUND its answer for a new
video. So the client interceptor is given a tracer whose spans pass through `_ClientSpan`, which keeps the status
UNSET for the codes `EXPECTED` lists for the method, and otherwise sets ERROR with `error.type` (the code's name)
and a one-line description (`NOT_FOUND: video ... not found`). Errors are not recorded as span events either (the
conventions advise against it; the event held the same five lines).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import grpc
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

# Full method name -> the codes that answer the caller's question rather than fail it.
EXPECTED: Mapping[str, frozenset[grpc.StatusCode]] = {
    # ingest: is this row or video known already? (services/ingest/pipeline.py, submission.py)
    "/influencers.v1.AnalyticsService/GetVideo": frozenset({grpc.StatusCode.NOT_FOUND}),
}
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_STATUS_CODE = "rpc.grpc.status_code"


def one_line(error: BaseException) -> str:
    """`CODE: details` of an RpcError, `Type: message` of another exception, on one line."""
    if isinstance(error, grpc.RpcError) and isinstance(error, grpc.Call):
        text = f"{error.code().name}: {error.details() or ''}"
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())


class _ClientSpan:
    """The span the instrumentation's client interceptor sees: attributes and the end go to the real span; an
    error status is held until the span ends (or the call's exception leaves the interceptor), then set as the
    module docstring says."""

    def __init__(self, span: trace.Span, expected: frozenset[grpc.StatusCode]) -> None:
        self._span = span
        self._expected = expected
        self._code: grpc.StatusCode | None = None
        self._error: BaseException | None = None
        self._failed = False
        self._settled = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._span, name)

    def set_attribute(self, key: str, value: object) -> None:
        if key == _STATUS_CODE and isinstance(value, int):
            self._code = _CODES.get(value)
        self._span.set_attribute(key, value)  # type: ignore[arg-type]

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        code = status.status_code if isinstance(status, Status) else status
        if code is StatusCode.ERROR:
            self._failed = True
        else:
            self._span.set_status(status, description)

    def record_exception(self, exception: BaseException, *args: object, **kwargs: object) -> None:
        self._error = exception

    def failed(self, exception: BaseException) -> None:
        """The call's exception left the interceptor (a streaming call's, which sets no status of its own)."""
        self._failed = True
        self._error = self._error or exception
        if self._code is None and isinstance(exception, grpc.RpcError) and isinstance(exception, grpc.Call):
            self._code = exception.code()

    def settle(self) -> None:
        if self._settled or not self._failed:
            return
        self._settled = True
        if self._code is not None and self._code in self._expected:
            return
        name = self._code.name if self._code is not None else type(self._error).__name__
        self._span.set_attribute("error.type", name)
        self._span.set_status(Status(StatusCode.ERROR, one_line(self._error) if self._error else name))

    def end(self, end_time: int | None = None) -> None:
        self.settle()
        self._span.end(end_time)


class _ClientTracer:
    """A tracer whose spans are `_ClientSpan`s; the real span is the current one (its context is sent along)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def __getattr__(self, name: str) -> object:
        return getattr(self._tracer, name)

    @contextlib.contextmanager
    def start_as_current_span(self, name: str, **kwargs: object) -> Iterator[_ClientSpan]:
        kwargs.update(record_exception=False, set_status_on_exception=False)
        with self._tracer.start_as_current_span(name, **kwargs) as span:  # type: ignore[arg-type]
            client_span = _ClientSpan(span, EXPECTED.get(name, frozenset()))
            try:
                yield client_span
            except Exception as exc:  # not GeneratorExit: a stream its reader stopped reading failed nothing
                client_span.failed(exc)
                raise
            finally:
                client_span.settle()  # a no-op until the call failed (a future's outcome comes later)


class ClientTracerProvider:
    """`provider`, whose tracers make `_ClientSpan`s: give it to the instrumentation's `client_interceptor`."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider

    def get_tracer(self, *args: object, **kwargs: object) -> _ClientTracer:
        return _ClientTracer(self._provider.get_tracer(*args, **kwargs))  # type: ignore[arg-type]
