"""A gRPC client interceptor that adds metadata to every call (the bearer token, the actor of the audit
trail): one place for the four call shapes and the ClientCallDetails that carry the metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from services.common.grpc_types import ClientContinuation


class MetadataClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                                grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `extra()` (pairs of header and value; none: the call goes as it is) to each call's metadata."""

    def extra(self) -> tuple[tuple[str, str], ...]:
        return ()

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        extra = self.extra()
        if not extra:
            return details
        metadata = (*tuple(details.metadata or ()), *extra)
        if hasattr(details, "_replace"):
            return details._replace(metadata=metadata)
        return _Details(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready,
                        details.compression)

    def intercept_unary_unary(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                               request_iterator: Iterator[Any]) -> Any:
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation: ClientContinuation, details: grpc.ClientCallDetails,
                                request_iterator: Iterator[Any]) -> Any:
        return continuation(self._details(details), request_iterator)


class _Details(grpc.ClientCallDetails):
    def __init__(self, method: str, timeout: float | None, metadata: tuple[tuple[str, str], ...],
                 credentials: grpc.CallCredentials | None, wait_for_ready: bool | None,
                 compression: grpc.Compression | None) -> None:
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression
