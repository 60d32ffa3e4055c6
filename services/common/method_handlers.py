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
    """`handler` with its behaviour replaced by `wrap(behaviour)`, the same shape and (de)serializers."""
    for kind, make in _MAKERS:
        behavior = getattr(handler, kind)
        if behavior is not None:
            return make(wrap(behavior), request_deserializer=handler.request_deserializer,
                        response_serializer=handler.response_serializer)
    return handler
