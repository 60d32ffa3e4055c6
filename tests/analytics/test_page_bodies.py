"""Request bodies the page's server reads, over real sockets and the real server (waitress, as served). Its one
limit was the enrol form's 25 MB on every path, and a body past 512 KiB is spooled to a temporary file while it is
read: 50 connections each sending 25 MB slowly (to /signin, no session needed) held 1.2 GB of disk."""

from __future__ import annotations

import os
import re
import select
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from influencers.page_bodies import (
    BODY_WINDOW_S,
    MAX_UPLOADS,
    MAX_UPLOADS_PER_CLIENT,
    MIN_BODY_RATE,
    UPLOAD_RETRY_S,
)
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.body_limits import FORM_BYTES, MAX_UPLOAD_BYTES
from tests.analytics.test_analytics_web import serving

UPLOAD = MAX_UPLOAD_BYTES - 4096  # an enrol form the page takes
SENT = 2 * 2**20  # of it sent before the test looks: past waitress's 512 KiB in memory, so on disk
_PART = b'--b\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
_END = b"\r\n--b--\r\n"
FORM = _PART + b"\xff\xd8\xff" + b"x" * (UPLOAD - len(_PART) - len(_END) - 3) + _END  # no CSRF token: a 403


@pytest.fixture
def port(tmp_path) -> Iterator[int]:
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    try:
        with serving(create_app(store)) as url:
            yield int(url.rsplit(":", 1)[1])
    finally:
        store.close()


def head(path: str, length: int, *extra: str, kind: str = "multipart/form-data; boundary=b") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {kind}",
             f"Content-Length: {length}", "Connection: close", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def upload_from(address: str, port: int, stack: ExitStack, sent: int = SENT) -> socket.socket:
    """A connection from `address` (any of 127/8) that starts an enrol form of UPLOAD bytes and sends `sent` of it."""
    sock = stack.enter_context(socket.socket())
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    sock.settimeout(10)
    sock.sendall(head("/enrol", UPLOAD))
    sock.sendall(FORM[:sent])  # a refused one too: the server reads it on, and drops it, after its answer
    return sock


def _deleted_temporary_files() -> dict[str, str]:
    """This process's open files (fd: target) that are in the temporary folder and deleted already."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed
            continue
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            found[fd] = target
    return found


def spooled_bytes(ignored: frozenset[str] = frozenset()) -> int:
    """Bytes in this process's open temporary files that are deleted already (as waitress's spooled bodies are),
    but for the files `ignored` (pytest's capture of stdout and stderr is such a file: it grows with the log)."""
    total = 0
    for fd, target in _deleted_temporary_files().items():
        if target in ignored:
            continue
        try:
            total += os.fstat(int(fd)).st_size
        except OSError:
            continue
    return total


def until(check, timeout_s: float = 10.0):  # noqa: ANN001, ANN201
    """`check()` once it is true (the server's loop acts on its own thread), else its last value."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@pytest.mark.parametrize("path", ["/signin", "/review/answer", "/influencer/inf_00000000a1/rename"])
def test_a_body_over_500_kB_on_any_path_but_enrol_is_a_413_page_naming_the_limit_before_it_is_read(
        port: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(path, FORM_BYTES + 1))
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"<nav" in answer and b"at most 500 kB in all and 1,000 fields here" in answer, answer[-2000:]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # exactly the limit: read, then CSRF
        sock.sendall(head(path, FORM_BYTES, kind="application/x-www-form-urlencoded") + b"x" * FORM_BYTES)
        assert answer_of(sock).startswith(b"HTTP/1.1 403")


def test_a_refused_body_sent_with_expect_100_continue_gets_its_413_and_no_continue(port: int) -> None:
    """Waitress answered "100 Continue" to a body over its limit, and then read it (up to the limit) before its
    413: a client that waits for the go-ahead, as curl does, sent it all."""
    for path, length in (("/api/review/answer.json", FORM_BYTES + 1), ("/enrol", MAX_UPLOAD_BYTES + 1)):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head(path, length, "Expect: 100-continue"))
            answer = answer_of(sock)
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
        assert b"at most" in answer and b"100 Continue" not in answer


def test_uploads_past_the_cap_are_a_503_page_at_once_and_the_disk_holds_only_those_taken(port: int) -> None:
    ignored = frozenset(_deleted_temporary_files().values())  # open before: not the server's spooled bodies
    with ExitStack() as stack:
        taken = [upload_from(f"127.0.0.{10 + k}", port, stack) for k in range(MAX_UPLOADS)]
        refused = [upload_from(f"127.0.0.{30 + k}", port, stack) for k in range(3)]
        for sock in refused:
            answer = answer_of(sock)
            assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
            assert f"Retry-After: {UPLOAD_RETRY_S}".encode() in answer
            assert b"<nav" in answer and f"the most it takes ({MAX_UPLOADS} in all".encode() in answer
        # Each upload taken is on disk as far as it was sent, and no more than those are
        assert until(lambda: spooled_bytes(ignored) >= MAX_UPLOADS * SENT)
        assert spooled_bytes(ignored) <= MAX_UPLOADS * (SENT + 2**20)
        # One ends (its body whole: the page answers it) and leaves room for the next
        taken[0].sendall(FORM[SENT:])
        assert answer_of(taken[0]).startswith(b"HTTP/1.1 403")  # no CSRF token: the page read and refused it
        late = upload_from("127.0.0.50", port, stack)
        late.sendall(FORM[SENT:])
        assert answer_of(late).startswith(b"HTTP/1.1 403")
        for sock in taken[1:]:
            sock.close()
        # The uploads dropped half-way are forgotten, their temporary files closed
        assert until(lambda: spooled_bytes(ignored) == 0)
        again = [upload_from(f"127.0.0.{60 + k}", port, stack) for k in range(MAX_UPLOADS)]
        for sock in again:
            sock.sendall(FORM[SENT:])
            assert answer_of(sock).startswith(b"HTTP/1.1 403")


def test_one_address_gets_two_uploads_at_once_and_the_others_still_get_theirs(port: int) -> None:
    with ExitStack() as stack:
        mine = [upload_from("127.0.0.20", port, stack) for _ in range(MAX_UPLOADS_PER_CLIENT + 1)]
        answer = answer_of(mine[-1])
        assert answer.startswith(b"HTTP/1.1 503") and b"from your address" in answer, answer[:300]
        other = upload_from("127.0.0.21", port, stack)
        other.sendall(FORM[SENT:])
        assert answer_of(other).startswith(b"HTTP/1.1 403")  # taken, read whole, and the page's CSRF check answered


def test_an_upload_trickled_a_byte_at_a_time_loses_its_slots_in_seconds_with_a_408_page_and_a_steady_one_goes_on(
        port: int) -> None:
    """A client sending a byte now and then kept its two upload slots until waitress's 120 s idle timeout (each byte
    restarts it): enrolment could be held by one slow client. A body must now keep arriving at MIN_BODY_RATE,
    counted over each BODY_WINDOW_S; a slow uplink above that rate keeps its slot."""
    with ExitStack() as stack:
        trickled = [upload_from("127.0.0.20", port, stack, sent=len(_PART)) for _ in range(MAX_UPLOADS_PER_CLIENT)]
        steady = upload_from("127.0.0.21", port, stack)
        step_s, sent, started = 0.5, SENT, time.monotonic()
        answered: dict[socket.socket, bytes] = {}
        deadline = started + 3 * BODY_WINDOW_S
        while len(answered) < len(trickled) and time.monotonic() < deadline:
            for sock in trickled:
                if sock not in answered and select.select([sock], [], [], 0)[0]:
                    answered[sock] = answer_of(sock)
                elif sock not in answered:
                    sock.sendall(b"x")
            chunk = int(2 * MIN_BODY_RATE * step_s)  # twice the least rate the page takes
            steady.sendall(FORM[sent:sent + chunk])
            sent += chunk
            time.sleep(step_s)
        assert len(answered) == len(trickled), "a trickled upload still held its slot"
        for answer in answered.values():
            assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
            assert b"<nav" in answer and b"arrived too slowly" in answer, answer[-2000:]
            assert b"(over each 10 s): send it again from a faster connection" in answer, answer[-2000:]
        # The address's slots are free again, and the steady upload, slower than a burst, was never cut off
        again = upload_from("127.0.0.20", port, stack)
        again.sendall(FORM[SENT:])
        assert answer_of(again).startswith(b"HTTP/1.1 403")
        steady.sendall(FORM[sent:])
        assert answer_of(steady).startswith(b"HTTP/1.1 403")  # read whole: the page's CSRF check answered


def test_a_chunked_body_that_stalls_is_a_408_page_saying_how_much_came(port: int) -> None:
    """A chunk announced as 2^80 bytes, then nothing: the connection was held until waitress's 120 s timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=3 * BODY_WINDOW_S) as sock:
        sock.sendall(b"POST /enrol HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\n\r\n" + b"F" * 20 + b"\r\n" + _PART)
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert re.search(rb"the form arrived too slowly: \d+ bytes of it \(chunked\) came", answer), answer[-2000:]
