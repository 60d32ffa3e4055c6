"""One HTTP/1.1 GET over a socket to an address that was already checked (pinned), under one deadline.

The connection goes to the exact IP that `netguard.resolve_checked` returned; the host name travels only
in the Host header and as the TLS server name (certificate checked against it). Every blocking step
(resolve, connect, handshake, send, each receive) gets the time left until the deadline, so a server that
trickles bytes cannot keep a download alive past it. The body is not decoded here (identity encoding is asked
for; fetch decodes a gzip or deflate Content-Encoding a server sends all the same).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from services.ingest.http_wire import (
    MAX_HEAD_BYTES,
    BadResponse,
    Head,
    content_length,
    is_chunked,
    parse_chunk_size,
    parse_header_lines,
    parse_status_line,
)
from services.ingest.netguard import IPAddress, Target

RECV_BYTES = 1 << 16
MAX_INTERIM = 5  # 1xx heads skipped before the real answer
MAX_ADDRESSES = 10  # tried for one connection: a name may resolve to hundreds, each one a connect
CONNECT_TRY_S = 10.0  # at most for one address while others remain: a dead first one (a broken IPv6 route)
SHOWN_FAILURES = 3  # addresses named in a "cannot connect" message
USER_AGENT = "influencers-ingest/1"
T = TypeVar("T")


class CannotConnect(Exception):
    """No connection (TCP or TLS) to any of the checked addresses; the message says why."""


class Deadline:
    """A wall-clock end point; `remaining()` is the time left in seconds, TimeoutError once it has passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"deadline of {self.seconds:g} s passed")
        return left


def call_before(deadline: Deadline, fn: Callable[[], T]) -> T:
    """Runs `fn` (a blocking call with no timeout of its own, such as getaddrinfo) in a helper thread and
    waits for it until the deadline; TimeoutError when it has not returned by then."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the waiting thread, raised there
            box["error"] = exc

    worker = threading.Thread(target=run, name="fetch-resolve", daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if worker.is_alive():
        raise TimeoutError(f"deadline of {deadline.seconds:g} s passed")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class Connection:
    """One request and its answer on a connected socket; close it (or use `with`) when done."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = bytearray()
        self.eof = False
        self.ragged = False  # the end came without TLS's closing alert (close_notify): a cut an attacker can make

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def request_head(self, target: Target, headers: Sequence[tuple[str, str]] = ()) -> Head:
        """Sends a GET for `target`, with `headers` added (values as a server sent them: Latin-1, no line
        breaks), and reads the answer's status line and headers (1xx heads skipped)."""
        if any(c in name + value for name, value in headers for c in "\r\n\0"):
            raise ValueError("a request header with a line break")
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        request = (f"GET {target.request_target} HTTP/1.1\r\nHost: {target.host_header}\r\n"
                   f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n{extra}"
                   f"Connection: close\r\n\r\n")
        self.sock.settimeout(self.deadline.remaining())
        self.sock.sendall(request.encode("latin-1"))
        budget = MAX_HEAD_BYTES
        for _ in range(MAX_INTERIM + 1):
            status_line = self._head_line(budget, first=True)
            budget -= len(status_line)
            status = parse_status_line(status_line)
            lines = []
            while (line := self._head_line(budget)) not in (b"\r\n", b"\n"):
                budget -= len(line)
                lines.append(line)
            budget -= len(line)
            head = parse_header_lines(lines, status)
            if not (100 <= status < 200) or status == 101:
                return head
        raise BadResponse(f"more than {MAX_INTERIM} interim (1xx) answers")

    def stream_body(self, head: Head, max_bytes: int, write: Callable[[bytes], object]) -> int:
        """Reads the body of a 200 answer into `write` and returns its size in bytes.

        Framing by Transfer-Encoding chunked, else Content-Length, else the end of the connection. More than
        `max_bytes`, more than declared, or fewer than declared (connection closed early) is a BadResponse.
        """
        chunked = is_chunked(head)
        declared = content_length(head, max_bytes)
        if chunked:
            return self._chunked(max_bytes, write)
        if declared is not None:
            self._exactly(declared, write, declared)
            if self._more_pending():
                raise BadResponse(f"the server sent more than the declared {declared} bytes")
            return declared
        total = 0
        while data := self._until_closed(total):
            total += len(data)
            if total > max_bytes:
                raise BadResponse(f"more than the limit of {max_bytes} bytes")
            write(data)
        if self.ragged:  # RFC 9112 9.8: such an answer is whole only when TLS closed with its alert
            raise BadResponse(f"incomplete download ({total} bytes, then the connection closed without TLS's closing "
                              "alert: the answer states no length, so it may be cut short)")
        return total

    def _until_closed(self, total: int) -> bytes:
        """The next bytes of a body that ends only when the server closes the connection (no length stated);
        past the deadline, a BadResponse that says so: a server keeping such a connection open sends an answer
        that never ends, which "timed out" alone did not tell."""
        try:
            return self._read(RECV_BYTES)
        except TimeoutError:
            raise BadResponse(
                f"no end within {self.deadline.seconds:g} s: the answer states no length (neither Content-Length "
                f"nor chunked), so it ends only when the server closes the connection, and after {total} bytes the "
                "server kept it open") from None

    def _chunked(self, max_bytes: int, write: Callable[[bytes], object]) -> int:
        total = 0
        while True:
            try:
                line = self._line(1024)
            except BadResponse:
                raise BadResponse("bad chunk size (line too long) in chunked body") from None
            if not line.endswith(b"\n"):
                raise BadResponse(f"incomplete download (chunked body cut off after {total} bytes)")
            size = parse_chunk_size(line)
            if size == 0:
                break
            if total + size > max_bytes:
                raise BadResponse(f"more than the limit of {max_bytes} bytes")
            self._exactly(size, write, None, done=total)
            total += size
            self._chunk_end(total)
        budget = MAX_HEAD_BYTES
        while (line := self._trailer_line(budget)) not in (b"\r\n", b"\n"):
            if not line.endswith(b"\n"):
                raise BadResponse(f"incomplete download (chunked body cut off after {total} bytes)")
            budget -= len(line)
        return total

    def _trailer_line(self, budget: int) -> bytes:
        """The next line of a chunked body's trailer fields, which share the head's limit of MAX_HEAD_BYTES."""
        if budget > 0:
            with contextlib.suppress(BadResponse):  # a line longer than the room left
                return self._line(budget)
        raise BadResponse(f"trailer fields after the chunked body larger than {MAX_HEAD_BYTES} bytes")

    def _chunk_end(self, total: int) -> None:
        try:
            end = self._line(2)
        except BadResponse:
            end = b"?"
        if not end:
            raise BadResponse(f"incomplete download (chunked body cut off after {total} bytes)")
        if end not in (b"\r\n", b"\n"):
            raise BadResponse("malformed chunked body (a chunk is longer than its size)")

    def _exactly(self, n: int, write: Callable[[bytes], object], declared: int | None, done: int = 0) -> None:
        got = 0
        while got < n:
            data = self._read(min(RECV_BYTES, n - got))
            if not data:
                of = f" of {declared}" if declared is not None else ""
                raise BadResponse(f"incomplete download ({done + got}{of} bytes, then the connection closed)")
            write(data)
            got += len(data)

    def _fill(self) -> bool:
        if self.eof:
            return False
        self.sock.settimeout(self.deadline.remaining())
        try:
            data = self.sock.recv(RECV_BYTES)
        except ssl.SSLEOFError:  # the socket closed without close_notify (suppress_ragged_eofs=False)
            data, self.ragged = b"", True
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read(self, n: int) -> bytes:
        if not self.buf and not self._fill():
            return b""
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _line(self, limit: int) -> bytes:
        """The next line with its ending, at most `limit` bytes; without ending when the connection closed."""
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i != -1:
                if i + 1 > limit:
                    break
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                break
            start = len(self.buf)
            if not self._fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line
        raise BadResponse("line too long in the answer")

    def _head_line(self, budget: int, first: bool = False) -> bytes:
        if budget <= 0:
            raise BadResponse(f"headers larger than {MAX_HEAD_BYTES} bytes")
        try:
            line = self._line(budget)
        except BadResponse:
            if first:
                _no_status_line(bytes(self.buf[:64]))
            raise BadResponse(f"headers larger than {MAX_HEAD_BYTES} bytes") from None
        if not line and first:
            raise BadResponse("the server closed the connection without answering")
        if not line.endswith(b"\n"):
            if first:
                _no_status_line(line)
            raise BadResponse("the server closed the connection in the middle of its headers")
        return line

    def _more_pending(self) -> bool:
        """Whether bytes beyond the body are already here (buffered, or readable without waiting)."""
        if self.buf:
            return True
        self.sock.setblocking(False)
        try:
            return bool(self.sock.recv(1))
        except (BlockingIOError, ssl.SSLWantReadError):
            return False
        except OSError:
            return False  # reset or closed after the whole body: nothing more was sent


def _no_status_line(start: bytes) -> None:
    """BadResponse naming the status line when an answer's first bytes, cut short or too long to be a line, start as
    no HTTP/1.x answer does: an HTTP/0.9 server (the file itself, no head) or another protocol on the port. Their
    end, or 64 kB with no line break, was said to be "the server closed the connection in the middle of its
    headers" or "headers larger than 65536 bytes"."""
    if not start.startswith(b"HTTP/"[:len(start)]):
        parse_status_line(start)


def open_connection(target: Target, addresses: Sequence[IPAddress], deadline: Deadline,
                    tls: ssl.SSLContext | None = None) -> Connection:
    """Connects to the first of `addresses` that answers (TLS for https, certificate checked for the name).

    At most MAX_ADDRESSES are tried, each but the last for half the time left (CONNECT_TRY_S at most) to connect
    and as long again for its TLS handshake, so that an address that never answers leaves time for the next; an
    address whose handshake fails is passed over as one refusing the connection is. CannotConnect names a few
    failures and counts the rest (one address alone: its own failure)."""
    tried = list(addresses)[:MAX_ADDRESSES]
    failures = []
    for i, ip in enumerate(tried):
        last = i == len(tried) - 1
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            left = deadline.remaining()
            sock.settimeout(left if last else min(left / 2, CONNECT_TRY_S))
            sock.connect((str(ip), target.port))
        except TimeoutError:
            sock.close()
            if last:
                raise
            failures.append(f"{ip}: timed out")
            continue
        except OSError as exc:
            sock.close()
            failures.append(f"{ip}: {exc.strerror or exc.__class__.__name__}")
            continue
        if target.scheme != "https":
            return Connection(sock, deadline)
        # A handshake that fails on one address (a node with a stale certificate, another service on its port)
        # goes on to the next, as a refused connect does; each is checked against the name all the same.
        try:
            left = deadline.remaining()
            sock = _handshake(sock, target, left if last else min(left / 2, CONNECT_TRY_S),
                              tls or ssl.create_default_context())
        except CannotConnect as exc:
            if len(tried) == 1:
                raise
            failures.append(f"{ip}: {exc}")
            continue
        except TimeoutError:
            if last:
                raise
            failures.append(f"{ip}: TLS handshake timed out")
            continue
        except OSError as exc:
            failures.append(f"{ip}: TLS handshake failed ({exc.strerror or exc.__class__.__name__})")
            continue
        return Connection(sock, deadline)
    raise CannotConnect(_failures_said(failures, len(addresses) - len(tried)))


def _failures_said(failures: Sequence[str], untried: int) -> str:
    """The first SHOWN_FAILURES failures, then how many more failed and how many addresses were not tried."""
    said = "; ".join(failures[:SHOWN_FAILURES]) or "no address"
    if len(failures) > SHOWN_FAILURES:
        said += f"; {len(failures) - SHOWN_FAILURES} more addresses failed"
    if untried:
        said += f"; {untried} more addresses not tried (at most {MAX_ADDRESSES} are)"
    return said


def _handshake(sock: socket.socket, target: Target, timeout_s: float, tls: ssl.SSLContext) -> ssl.SSLSocket:
    """`sock` wrapped in TLS for `target`'s name, the handshake given `timeout_s` seconds; closed on failure."""
    try:
        sock.settimeout(timeout_s)
        return tls.wrap_socket(sock, server_hostname=target.host, suppress_ragged_eofs=False)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise CannotConnect(f"TLS certificate refused: {exc.verify_message}") from exc
    except ssl.SSLError as exc:
        sock.close()
        raise CannotConnect(f"TLS handshake failed: {_tls_failure(exc)}") from exc
    except BaseException:
        sock.close()
        raise


# OpenSSL's reasons for the handshake failures a user meets, in words (the reason itself kept, for a search).
_TLS_WORDS = {
    "WRONG_VERSION_NUMBER": "the server answered without TLS: an http server on this port? (give the link as http://)",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the connection during the handshake",
    "TLSV1_ALERT_PROTOCOL_VERSION": "the server offers only a TLS version too old to be used",
    "UNSUPPORTED_PROTOCOL": "the server offers only a TLS version too old to be used",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server and this client have no TLS version or cipher in common",
    "TLSV1_UNRECOGNIZED_NAME": "the server serves no site of this host name",
}


def _tls_failure(exc: ssl.SSLError) -> str:
    """Why a handshake failed, in words where OpenSSL's reason is a common one (`WRONG_VERSION_NUMBER` was all a
    plain http server behind an https link gave), followed by that reason; the reason alone otherwise."""
    reason = exc.reason or str(exc)
    words = _TLS_WORDS.get(str(reason))
    return f"{words} ({reason})" if words else str(reason)
