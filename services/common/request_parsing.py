"""Requests that are no message of their method, answered INVALID_ARGUMENT instead of gRPC's INTERNAL.

gRPC Python parses each request before any interceptor or servicer runs, and answers one it cannot parse with
INTERNAL "Exception deserializing request!": a caller's bad bytes (a string field holding bytes that are no UTF-8,
as a client writing a lone surrogate sends, or bytes of another message) read as the server's own fault. Here the
server takes the bytes as they came and parses them itself, so that such a request is the caller's error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from services.common.grpc_types import ServerContinuation

log = logging.getLogger(__name__)

_MAKERS = {(False, False): grpc.unary_unary_rpc_method_handler,
           (False, True): grpc.unary_stream_rpc_method_handler,
           (True, False): grpc.stream_unary_rpc_method_handler,
           (True, True): grpc.stream_stream_rpc_method_handler}


class RequestParsing(grpc.ServerInterceptor):
    """Innermost interceptor: hands each servicer its requests parsed here, refusing bytes that are no request of
    the method with INVALID_ARGUMENT naming the method."""

    def intercept_service(self, continuation: ServerContinuation, handler_call_details: grpc.HandlerCallDetails
                          ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        kind = ("stream" if handler.request_streaming else "unary") + "_" + (
            "stream" if handler.response_streaming else "unary")
        behavior = getattr(handler, kind)
        if getattr(behavior, "experimental_non_blocking", False):  # grpc_health's Watch: see method_handlers.py
            return handler
        parse = _parser(handler.request_deserializer, handler_call_details.method)
        if handler.request_streaming:
            def streamed(requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
                return behavior((parse(raw, context) for raw in requests), context)
            wrapped: Callable[..., Any] = streamed
        else:
            def wrapped(raw: bytes, context: grpc.ServicerContext) -> Any:
                return behavior(parse(raw, context), context)
        make = _MAKERS[(handler.request_streaming, handler.response_streaming)]
        return make(wrapped, request_deserializer=None, response_serializer=handler.response_serializer)


def _parser(deserialize: Callable[[bytes], Any], method: str) -> Callable[[bytes, grpc.ServicerContext], Any]:
    # The message class, when the deserializer is its FromString (the generated stubs' own).
    message = getattr(getattr(deserialize, "__self__", None), "__name__", "") or f"{method.rsplit('/', 1)[-1]} request"

    def parse(raw: bytes, context: grpc.ServicerContext) -> Any:
        try:
            return deserialize(raw)
        except Exception as exc:  # protobuf's DecodeError, or any error of a parser that is not protobuf's
            # protobuf says "Error parsing message with type '...': String field had bad UTF-8": its reason only.
            reason = str(exc).rsplit(": ", 1)[-1][:80] or type(exc).__name__
            log.warning("%s: %d bytes that are no %s: %s", method, len(raw), message, exc)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"the request is no valid {message} ({reason}): a string field holding bytes that are no "
                          f"UTF-8 (a lone surrogate?), or bytes of another message")
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    return parse
