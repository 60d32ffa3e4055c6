"""How much of a request body the page's server reads, and how many uploads it holds at once.

Waitress reads a whole body before the page runs, keeping up to 512 KiB of it in memory (its inbuf_overflow) and
the rest in a temporary file, and its one limit was the page's largest (the enrol form's 25 MB) on every path: 50
connections sending 25 MB each, slowly, to /signin (no session needed) held 1.2 GB of disk until they finished,
and its 400 connections could hold 10 GB. Now a body is refused by its path's limit (body_limits.body_limit:
500 kB but on the enrol form), by its Content-Length before a byte of it is read or as a chunked one passes it,
and a body that will be spooled to disk (an upload) is taken only while fewer than MAX_UPLOADS are being read or
served, MAX_UPLOADS_PER_CLIENT of them from one client: past them a 503 with Retry-After, at once. The disk an
upload can take is then MAX_UPLOADS x 25 MB, 100 MB.

A body must keep coming: at least MIN_BODY_RATE bytes a second, counted over each BODY_WINDOW_S since its head
ended, or its request is answered 408 and its slot freed. Waitress's only clock was its 120 s idle timeout, which
each byte restarts: a client trickling a byte now and then held its two upload slots (and their disk) for as long
as it liked. A window, not an average since the start, so that a burst sent first buys no time to stall after it.

A refused body's connection is closed as web servers close one (nginx's lingering_close): the answer sent, the
sending side shut, and what the client still sends read and dropped (LINGER_S, LINGER_BYTES at most). Closed at
once, with the body's bytes unread, the kernel sent a reset, which can throw the answer away before the client
reads it (a client that had sent 2 MB of its upload read ECONNRESET, not the 503; Chromium on loopback showed the
page either way).
"""

from __future__ import annotations

import copy
import socket
import time
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.utilities import Error

from services.analytics.web.body_limits import body_limit
from services.analytics.web.throttle import client_key

MAX_UPLOADS = 4  # identity enrols 2 at once (MAX_ENROLMENTS): room for 2 more being read from slow uplinks
MAX_UPLOADS_PER_CLIENT = 2  # a browser sends one form at a time: one client cannot take every upload
UPLOAD_RETRY_S = 30
LINGER_S = 10.0  # how long a refused body is read and dropped after its answer, at most
LINGER_BYTES = 32 * 2**20  # and how much of it: a refused enrol form whole
BODY_WINDOW_S = 10.0  # a body's bytes are counted over each of these, from the end of its head
MIN_BODY_RATE = 16 * 1024  # bytes a second, at least, in each window: 128 kbit/s, a poor mobile uplink


class _Refusal:
    """Whether a channel's request was refused with its body unread (set by the parser, read by the channel: a
    parser holding its channel made a cycle, which kept a dropped upload's temporary file open until the garbage
    collector's next full pass)."""

    body_left = False


class UploadsBusy(Error):
    """Waitress's refusal of an upload past MAX_UPLOADS: a 503 (`body` says why) to send again later."""

    code = 503
    reason = "Service Unavailable"
    retry_after = UPLOAD_RETRY_S


class BodyTooSlow(Error):
    """Waitress's answer to a body arriving under MIN_BODY_RATE: a 408 (`body` says how slow)."""

    code = 408
    reason = "Request Timeout"


class _BoundedParser(HTTPRequestParser):
    """Waitress's request parser, holding each body to its path's limit and counting uploads."""

    upload = False  # this request's body is (being) spooled to disk: it counts against MAX_UPLOADS
    window = (0.0, 0)  # the current window of the body: when it began (time.monotonic()), and bytes read before it

    def __init__(self, adj: Adjustments, server: Any, client: str, refusal: _Refusal, uploads: int,
                 per_client: int) -> None:
        super().__init__(adj)
        self.server, self.from_client, self.refusal = server, client, refusal
        self.uploads, self.per_client = uploads, per_client

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.window = (time.monotonic(), 0)
        limit = body_limit(self.path or "/")
        # Waitress refuses a body at its max_request_body_size and over (>=), a chunked one as it passes it
        self.adj = copy.copy(self.adj)
        self.adj.max_request_body_size = min(limit + 1, self.adj.max_request_body_size)
        if self.content_length >= self.adj.max_request_body_size:
            # waitress's 413 follows, which the page words with the path's limit (server_errors)
            self._refuse(None)
        elif self.chunked or self.content_length > self.adj.inbuf_overflow:
            if limit <= self.adj.inbuf_overflow:
                return  # held in memory whole: a chunked form is refused by waitress as it passes `limit`
            held = [parser for channel in list(self.server.active_channels.values())
                    for parser in _parsers(channel) if parser.upload]
            mine = sum(1 for parser in held if parser.from_client == self.from_client)
            if len(held) >= self.uploads or mine >= self.per_client:
                self._refuse(UploadsBusy(
                    f"the page is receiving {len(held) if len(held) >= self.uploads else mine} uploads "
                    f"{'at once' if len(held) >= self.uploads else 'from your address'}, the most it takes "
                    f"({self.uploads} in all, {self.per_client} from one address): send the photos again in "
                    f"{UPLOAD_RETRY_S} s"))
            else:
                self.upload = True

    def _refuse(self, error: Error | None) -> None:
        """Answers `error` without reading the body: no 100 Continue is sent for it (waitress sent one for its own
        413 and then read the body up to its limit), and the connection closes after the answer."""
        self.error, self.body_rcv, self.expect_continue = error, None, False
        self.refusal.body_left = True

    def too_slow(self, now: float, window_s: float, rate: float) -> bool:
        """Whether this request's body is being read and its last full window (of `window_s` seconds) brought
        fewer than `rate` bytes a second; a window that brought enough starts the next."""
        if self.completed or self.body_rcv is None or self.error is not None:
            return False
        began, before = self.window
        if now - began < window_s:
            return False
        if self.body_bytes_received - before < rate * window_s:
            return True
        self.window = (now, self.body_bytes_received)
        return False

    def time_out(self, window_s: float, rate: float) -> None:
        """Ends this request as a 408, its body unread and its upload slot and temporary file let go at once."""
        self.close()
        came = (f"{self.body_bytes_received:,} bytes of it (chunked) came" if self.chunked else
                f"{self.body_bytes_received:,} of its {self.content_length:,} bytes came")
        self.error = BodyTooSlow(
            f"the form arrived too slowly: {came}, "
            f"and the page takes {rate / 1024:.0f} kB a second at least (over each {window_s:.0f} s): send it again "
            f"from a faster connection")  # under server_errors.MAX_DETAIL_CHARS, which cuts a longer one
        self.body_rcv, self.completed, self.expect_continue = None, True, False
        self.refusal.body_left = True

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.error is not None and self.body_rcv is not None and not self.body_rcv.completed:
            self.refusal.body_left = True  # a chunked body refused as it passed its limit
        return consumed

    def close(self) -> None:
        self.upload = False  # served (or dropped): its temporary file is closed now
        super().close()


def _parsers(channel: Any) -> list[HTTPRequestParser]:
    """The requests of `channel`: the one being read and those read and waiting or being served."""
    found = {id(p): p for p in [getattr(channel, "request", None), *list(getattr(channel, "requests", ()))]
             if isinstance(p, _BoundedParser)}
    return list(found.values())


def bounded(channel_class: type[HTTPChannel], uploads: int = MAX_UPLOADS,
            per_client: int = MAX_UPLOADS_PER_CLIENT, window_s: float = BODY_WINDOW_S,
            rate: float = MIN_BODY_RATE) -> type[HTTPChannel]:
    """`channel_class` reading each body up to its path's limit, and at most `uploads` bodies spooled to disk
    at once (`per_client` of one client), each arriving at `rate` bytes a second or more over each `window_s`."""

    class Bounded(channel_class):  # type: ignore[misc, valid-type]
        linger_until = 0.0  # while a refused body is read and dropped: until when (time.monotonic())
        lingered = 0  # bytes of it read

        def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Adjustments,
                     map: dict[int, Any] | None = None) -> None:  # noqa: A002 - waitress's name
            super().__init__(server, sock, addr, adj, map=map)
            client = client_key(addr[0]) if isinstance(addr, tuple) and addr else ""
            refusal = self.refusal = _Refusal()
            self.parser_class = lambda adj: _BoundedParser(adj, server, client, refusal, uploads, per_client)

        def handle_close(self) -> None:
            """After a refused body's answer, shuts the sending side and reads on (handle_read) instead."""
            if not self.refusal.body_left or self.linger_until or not self.connected or self.socket is None:
                super().handle_close()
                return
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                super().handle_close()
                return
            self.linger_until = time.monotonic() + LINGER_S
            self.will_close = self.close_when_flushed = False

        def readable(self) -> bool:
            """Also the server loop's clock (it asks every channel at least once a second): a lingering refusal
            ends, a body arriving too slowly is answered."""
            if self.linger_until and time.monotonic() > self.linger_until:
                self.will_close = True  # handle_write closes it (closing here would change the map being polled)
                return False
            request = self.request
            if isinstance(request, _BoundedParser):
                if self.requests:  # an earlier request of the connection is served: no body is read meanwhile
                    request.window = (time.monotonic(), request.body_bytes_received)
                elif request.too_slow(time.monotonic(), window_s, rate):
                    self._time_out(request)
            return bool(self.linger_until) or super().readable()

        def _time_out(self, request: _BoundedParser) -> None:
            """Answers `request` with its 408 as waitress answers a request it refused (HTTPChannel.received)."""
            request.time_out(window_s, rate)
            with self.requests_lock:
                self.requests.append(request)
                self.request = None
                self.server.add_task(self)

        def handle_read(self) -> None:
            if not self.linger_until:
                super().handle_read()
                return
            try:
                data = self.recv(self.adj.recv_bytes * 8)  # b"" once the client closed: recv() closed it then
            except OSError:
                data = b""
            self.lingered += len(data)
            if data and self.lingered > LINGER_BYTES:
                super().handle_close()

    return Bounded
