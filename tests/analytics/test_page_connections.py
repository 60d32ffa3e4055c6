"""Connections to the page that send nothing, over real sockets and the real server. Waitress accepted 100 at
most and closed an idle one after 120 s: a hundred idle sockets from one client left every other client
unanswered, for good when that client opened them again (or trickled a byte a minute)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from influencers.page_connections import MAX_PER_CLIENT
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
