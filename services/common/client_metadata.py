"""A gRPC client interceptor that adds metadata to every call (the bearer token, the actor of the audit
trail): one place for the four call shapes and the ClientCallDetails that carry the metadata."""

from __future__ import annotations

import grpc


class MetadataClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                                grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `extra()` (pairs of header and value; none: the call goes as it is) to each call's metadata."""

    def extra(self) -> tuple[tuple[str, str], ...]:
        return ()

    def _details(self, details):  # type: ignore[no-untyped-def]
        extra = self.extra()
        if not extra:
            return details
        metadata = (*tuple(details.metadata or ()), *extra)
        if hasattr(details, "_replace"):
            return details._replace(metadata=metadata)
        return _Details(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready,
                        details.compression)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request_iterator)


class _Details(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):  # type: ignore[no-untyped-def]
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression
