"""Who is calling, for the audit trail: the caller names itself in the gRPC metadata `x-influencers-actor` of
its calls (identity records it with each correction; services/identity/audit.py bounds and cleans it).

A process that always acts as one actor gives it to `open_channel(actor=...)` (the CLI: "cli:" and the OS user);
a server that acts for many (the report page, one session per request) sets `current_actor` for the duration of
a request, which wins over the channel's."""

from __future__ import annotations

import getpass
from contextvars import ContextVar

from services.common.client_metadata import MetadataClientInterceptor

ACTOR_HEADER = "x-influencers-actor"
current_actor: ContextVar[str] = ContextVar("influencers_actor", default="")


def cli_actor() -> str:
    """"cli:" and the OS user running the command ("cli:unknown" when it has no name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry
        user = "unknown"
    return f"cli:{user}"


class ActorClientInterceptor(MetadataClientInterceptor):
    """Adds ACTOR_HEADER to every call: `current_actor` when set, else `default` (no header when neither)."""

    def __init__(self, default: str = "") -> None:
        self._default = default

    def extra(self) -> tuple[tuple[str, str], ...]:
        actor = current_actor.get() or self._default
        return ((ACTOR_HEADER, actor.encode("ascii", "replace").decode()),) if actor else ()
