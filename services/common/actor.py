"""Who is calling, for the audit trail: the caller names itself in the gRPC metadata `x-influencers-actor` of
its calls (identity records it with each correction; services/identity/audit.py bounds and cleans it).

A process that always acts as one actor gives it to `open_channel(actor=...)` (the CLI: "cli:" and the OS user);
a server that acts for many (the report page, one session per request) sets `current_actor` for the duration of
a request, which wins over the channel's."""

from __future__ import annotations

import getpass
from contextvars import ContextVar

import grpc

ACTOR_HEADER = "x-influencers-actor"
current_actor: ContextVar[str] = ContextVar("influencers_actor", default="")


def cli_actor() -> str:
    """"cli:" and the OS user running the command ("cli:unknown" when it has no name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry
        user = "unknown"
    return f"cli:{user}"


class ActorClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                             grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds ACTOR_HEADER to every call: `current_actor` when set, else `default` (no header when neither)."""

    def __init__(self, default: str = "") -> None:
        self._default = default

    def _details(self, details):  # type: ignore[no-untyped-def]
        actor = current_actor.get() or self._default
        if not actor:
            return details
        metadata = (*tuple(details.metadata or ()), (ACTOR_HEADER, actor.encode("ascii", "replace").decode()))
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
