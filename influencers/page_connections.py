"""How many connections the page's server holds at once, in all and from one client. Waitress stops accepting
past its `connection_limit` (100 by default) until one closes, and closes an idle one only after its channel
timeout (120 s, counted from its last byte): a hundred sockets from one client that sent nothing, or a request
head trickled a byte a minute, left every other client unanswered for as long as that client kept them. One
client (an address, an IPv6 /64 as the sign-in throttle counts it) now holds MAX_PER_CLIENT at most: its
connections past that are closed as they come, before a byte of them is read; the server holds MAX_CONNECTIONS,
so that it takes four clients, not one, to fill it.

And four clients did fill it, for as long as they liked: 400 connections trickling a request head a byte every
3 s (or sending nothing, reopened every 120 s) left every other client unanswered. A connection waiting for a
request (just accepted, or its last answer sent: a browser's idle keep-alive) must now bring a whole request
head within HEAD_WAIT_S, or it is closed, as Apache closes an idle keep-alive after 5 s and nginx a slow head
after 60 s; a browser opens a new connection for its next request. A body has its own clock (page_bodies)."""

from __future__ import annotations

import socket
import time
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel

from services.analytics.web.throttle import client_key

MAX_CONNECTIONS = 400  # waitress's connection_limit (its select() loop takes file descriptors under 1024 only)
MAX_PER_CLIENT = 100  # of one client at once: waitress's old limit in all, so that a proxy in front (one
# client, every reader behind it) keeps what it had; a browser opens 6 to a host
HEAD_WAIT_S = 10.0  # from a connection's accept or its last answer to a whole request head, at most


def capped(channel_class: type[HTTPChannel], per_client: int = MAX_PER_CLIENT,
           head_wait_s: float = HEAD_WAIT_S) -> type[HTTPChannel]:
    """`channel_class` closing a client's connections past `per_client` at once as they are accepted, and a
    connection that waits for a request for longer than `head_wait_s` without a whole request head."""

    class Capped(channel_class):  # type: ignore[misc, valid-type]
        client = ""
        waiting_since = 0.0  # since when (time.monotonic()) the connection waits for a request head

        def readable(self) -> bool:
            """Also the clock of a head (the server's loop asks every channel at least once a second)."""
            now = time.monotonic()
            request = self.request
            busy = bool(self.requests or self.total_outbufs_len or getattr(self, "linger_until", 0.0)
                        or (request is not None and request.headers_finished))
            if busy or not self.waiting_since:
                self.waiting_since = now
            elif now - self.waiting_since > head_wait_s and not self.will_close:
                self.will_close = True  # handle_write closes it (closing here would change the map being polled)
                return False
            return bool(super().readable())

        def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Adjustments,
                     map: dict[int, Any] | None = None) -> None:  # noqa: A002 - waitress's name
            super().__init__(server, sock, addr, adj, map=map)
            self.client = client_key(addr[0]) if isinstance(addr, tuple) and addr else ""
            held = sum(1 for channel in list(server.active_channels.values())
                       if getattr(channel, "client", "") == self.client)
            if self.client and held > per_client:
                self.will_close = True  # never read (readable() is False), closed by the loop's next turn

    return Capped
