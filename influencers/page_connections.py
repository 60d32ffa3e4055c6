"""How many connections the page's server holds at once, in all and from one client. Waitress stops accepting
past its `connection_limit` (100 by default) until one closes, and closes an idle one only after its channel
timeout (120 s, counted from its last byte): a hundred sockets from one client that sent nothing, or a request
head trickled a byte a minute, left every other client unanswered for as long as that client kept them. One
client (an address, an IPv6 /64 as the sign-in throttle counts it) now holds MAX_PER_CLIENT at most: its
connections past that are closed as they come, before a byte of them is read; the server holds MAX_CONNECTIONS,
so that it takes four clients, not one, to fill it."""

from __future__ import annotations

import socket
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel

from services.analytics.web.throttle import client_key

MAX_CONNECTIONS = 400  # waitress's connection_limit (its select() loop takes file descriptors under 1024 only)
MAX_PER_CLIENT = 100  # of one client at once: waitress's old limit in all, so that a proxy in front (one
# client, every reader behind it) keeps what it had; a browser opens 6 to a host


def capped(channel_class: type[HTTPChannel], per_client: int = MAX_PER_CLIENT) -> type[HTTPChannel]:
    """`channel_class` closing a client's connections past `per_client` at once as they are accepted."""

    class Capped(channel_class):  # type: ignore[misc, valid-type]
        client = ""

        def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Adjustments,
                     map: dict[int, Any] | None = None) -> None:  # noqa: A002 - waitress's name
            super().__init__(server, sock, addr, adj, map=map)
            self.client = client_key(addr[0]) if isinstance(addr, tuple) and addr else ""
            held = sum(1 for channel in list(server.active_channels.values())
                       if getattr(channel, "client", "") == self.client)
            if self.client and held > per_client:
                self.will_close = True  # never read (readable() is False), closed by the loop's next turn

    return Capped
