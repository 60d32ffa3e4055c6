"""Wrapping the behaviour of a gRPC method handler, whatever its call shape, for server interceptors."""

from __future__ import annotations

from collections.abc import Callable

import grpc

_MAKERS = (("unary_unary", grpc.unary_unary_rpc_method_handler),
           ("unary_stream", grpc.unary_stream_rpc_method_handler),
           ("stream_unary", grpc.stream_unary_rpc_method_handler),
           ("stream_stream", grpc.stream_stream_rpc_method_handler))


def rewrapped(handler: grpc.RpcMethodHandler, wrap: Callable[[Callable], Callable]  # type: ignore[type-arg]
              ) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour replaced by `wrap(behaviour)`, the same shape and (de)serializers; a
    non-blocking behaviour is left as it is (see below)."""
    for kind, make in _MAKERS:
        behavior = getattr(handler, kind)
        if getattr(behavior, "experimental_non_blocking", False):
            # It answers through a callback gRPC hands it, and returns at once (grpc_health's Watch): gRPC reads
            # the mark on the behaviour itself, so a wrapper would make each stream hold a server thread for as
            # long as its caller keeps it open. Nothing of ours has such a handler to count or guard.
            return handler
        if behavior is not None:
            return make(wrap(behavior), request_deserializer=handler.request_deserializer,
                        response_serializer=handler.response_serializer)
    return handler
