"""Which call a gRPC error came from. A client's RpcError carries a status and details ("UNAVAILABLE", "Stream
removed": a peer that went away) but not the method it answered, so a log line that said only its details named
no service: "ingest worker step failed: Stream removed". Every channel of ours (services/common/rpc.py
open_channel) names its errors through CallNames, and `failed_call` says them as
"identity.AnalyzeVideo failed: UNAVAILABLE Stream removed"."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import grpc
from grpc.experimental import UsageError

from services.common.damage import DISK_FULL
from services.common.grpc_types import ClientContinuation

METHOD_ATTR = "influencers_rpc_method"  # set on the error object the caller catches: "/pkg.Service/Method"


def call_name(method: str) -> str:
    """`/influencers.v1.IdentityService/AnalyzeVideo` as "identity.AnalyzeVideo"; another package's service
    keeps its name (`grpc.health.v1.Health.Check`)."""
    service, _, rpc = method.lstrip("/").rpartition("/")
    package, _, name = service.rpartition(".")
    if package.startswith("influencers.") and name.endswith("Service"):
        service = name.removesuffix("Service").lower()
    return f"{service}.{rpc}" if service else rpc


def failed_call(exc: BaseException) -> str:
    """An error on one line: a gRPC error as "identity.AnalyzeVideo failed: UNAVAILABLE Stream removed" (or
    "UNAVAILABLE: Stream removed" from a channel that did not name it), any other exception as its text."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    if not (callable(code) and callable(details)):
        return " ".join(str(exc).split())
    status = code().name if isinstance(code(), grpc.StatusCode) else str(code())
    said = " ".join(str(details() or "").split())
    method = getattr(exc, METHOD_ATTR, "")
    if not method:
        return f"{status}: {said}"
    # Our servers name the method in some details ("AnalyzeVideo: the database is unreachable", "disk full:
    # RecordVideo could not write (...)"), for callers that show the details alone (the page): named here
    # already, it is said once (was twice: "analytics.RecordVideo failed: ... disk full: RecordVideo could not").
    rpc = method.rsplit("/", 1)[-1]
    said = said.removeprefix(f"{rpc}: ")
    if said.startswith(f"{DISK_FULL}: {rpc} "):
        said = f"{DISK_FULL}: {said.removeprefix(f'{DISK_FULL}: {rpc} ')}"
    return f"{call_name(method)} failed: {status} {said}".rstrip()


def _name(call: Any, method: str) -> Any:
    """Names the outcome a continuation returned: a streaming call is itself the error its iteration raises; a
    blocking unary call's outcome is done, its exception the one the caller gets; a future's, once it ends."""
    _tag(call, method)
    with contextlib.suppress(AttributeError, UsageError):  # no Future interface: the call alone is named
        if call.done():
            _tag_outcome(call, method)
        else:
            call.add_done_callback(lambda done: _tag_outcome(done, method))
    return call


def _tag_outcome(call: Any, method: str) -> None:
    """Names a done call's exception; never raises (it may run as gRPC's callback): a cancelled call has none."""
    with contextlib.suppress(AttributeError, UsageError, grpc.RpcError, grpc.FutureCancelledError):
        _tag(call.exception(), method)


def _tag(error: object, method: str) -> None:
    if isinstance(error, grpc.RpcError):
        with contextlib.suppress(AttributeError):  # a class with __slots__: unnamed ("CODE: details")
            setattr(error, METHOD_ATTR, method)


class CallNames(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Sets the method's full name on every error a call of the channel raises (read by failed_call)."""

    @staticmethod
    def _method(details: grpc.ClientCallDetails) -> str:
        method = details.method
        return method.decode() if isinstance(method, bytes) else str(method)

    def intercept_unary_unary(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        return _name(continuation(details, request), self._method(details))

    def intercept_unary_stream(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        return _name(continuation(details, request), self._method(details))

    def intercept_stream_unary(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                               request_iterator: Iterator[Any]) -> Any:
        return _name(continuation(details, request_iterator), self._method(details))

    def intercept_stream_stream(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                                request_iterator: Iterator[Any]) -> Any:
        return _name(continuation(details, request_iterator), self._method(details))
