"""Connections to the page that send nothing, over real sockets and the real server. Waitress accepted 100 at
most and closed an idle one after 120 s: a hundred idle sockets from one client left every other client
unanswered, for good when that client opened them again (or trickled a byte a minute)."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from influencers.page_connections import HEAD_WAIT_S, MAX_PER_CLIENT
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving


@pytest.fixture
def page(tmp_path) -> Iterator[tuple[str, int]]:
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    try:
        with serving(create_app(store)) as url:
            yield url, int(url.rsplit(":", 1)[1])
    finally:
        store.close()


def idle_from(address: str, port: int, stack: ExitStack) -> socket.socket:
    """A connection to the page from `address` (any of 127/8 on loopback) that sends nothing."""
    sock = stack.enter_context(socket.socket())
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    sock.settimeout(5)
    return sock


def test_a_client_holding_a_hundred_idle_connections_leaves_the_page_to_the_others(page) -> None:
    url, port = page
    with ExitStack() as stack:
        idle = [idle_from("127.0.0.2", port, stack) for _ in range(120)]
        assert requests.get(url + "/", timeout=10).status_code == 200
        # Its first MAX_PER_CLIENT stay open (each waits for a request); the rest were closed unread.
        idle[MAX_PER_CLIENT - 1].sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert idle[MAX_PER_CLIENT - 1].recv(12) == b"HTTP/1.1 200"
        assert idle[-1].recv(1) == b""


def test_a_body_over_the_pages_limit_is_refused_by_its_length_before_a_byte_of_it_is_read(page) -> None:
    # Waitress read up to 1 GB of any POST, sign-in's too (no session needed), into a temporary file before the
    # page answered 413: 300 MiB were taken (150 s of it) for one request, and a client may open a hundred.
    url, port = page
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 314572800\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than the page takes: at most 500 kB in all" in answer, answer[-2000:]


def test_connections_trickling_a_request_head_or_idle_after_an_answer_are_closed_at_the_head_deadline(page) -> None:
    """Four clients of a hundred connections each, trickling a request head a byte every 3 s, held every one
    of the server's 400 connections, and every other client went unanswered for as long as they kept at it."""
    url, port = page
    with ExitStack() as stack:
        trickling = [idle_from("127.0.0.3", port, stack) for _ in range(3)]
        served = idle_from("127.0.0.4", port, stack)
        served.sendall(b"GET /static/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # then idle, kept alive
        assert served.recv(12) == b"HTTP/1.1 200"
        served.settimeout(1)
        assert not _drained(served), "the answer read whole, the connection kept alive"
        started = time.monotonic()
        closed: dict[socket.socket, float] = {}
        while len(closed) < len(trickling) + 1 and time.monotonic() - started < 3 * HEAD_WAIT_S:
            for sock in trickling:
                if sock not in closed:
                    try:
                        sock.sendall(b"G")
                    except OSError:  # reset: closed by the server
                        closed[sock] = time.monotonic() - started
            for sock in (*trickling, served):
                if sock not in closed and select.select([sock], [], [], 0)[0] and _drained(sock):
                    closed[sock] = time.monotonic() - started
            time.sleep(0.5)
        assert len(closed) == len(trickling) + 1, "a connection without a whole request head stayed open"
        assert max(closed.values()) < HEAD_WAIT_S + 5, closed
        assert requests.get(url + "/", timeout=10).status_code == 200


def _drained(sock: socket.socket) -> bool:
    """Whether the server closed `sock`: what it sent read, then the end."""
    try:
        while chunk := sock.recv(65536):
            del chunk
    except TimeoutError:
        return False
    except OSError:  # reset: closed with bytes unread
        return True
    return True
