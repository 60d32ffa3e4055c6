"""Readers of the player's video that read slowly or not at all, over real sockets and the real server: each
holds one of the server's threads while its range is sent (waitress blocks a response's thread once 16 MiB wait
for the socket), and one that stopped reading held it for good (waitress's channel timeout spares a channel with
a request in flight). The media streams are bounded, so that the pages keep their threads: past the bound, a
503 with Retry-After."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest
import requests

from influencers.stack import WebServer
from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.media import MEDIA_STREAMS
from tests.analytics.test_analytics_web import serving

VIDEO_ID = "00000000000000a1"
SIZE = 64 * 2**20  # past waitress's 16 MiB output buffer and the sockets' own buffers


@pytest.fixture
def page_files(tmp_path: Path) -> Iterator[tuple[AnalyticsStore, Path]]:
    """A store with one video whose file (under the folder given) is SIZE bytes long."""
    video = tmp_path / "long.mp4"
    with video.open("wb") as out:
        out.truncate(SIZE)  # sparse: no disk written
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="long.mp4", video_id=VIDEO_ID, performance=1.0, status=DONE, duration_s=600.0,
                                location=str(video)), [])
    yield store, tmp_path
    store.close()


@pytest.fixture
def page(page_files: tuple[AnalyticsStore, Path]) -> Iterator[str]:
    store, root = page_files
    with serving(create_app(store, {"ALLOWED_ROOT": str(root)})) as url:
        yield url


def reader(url: str, stack: ExitStack, headers: str = "Range: bytes=0-\r\n") -> socket.socket:
    """A connection that asks for the whole video, as a player does, with a tiny receive buffer (the server's
    sends soon wait for it), and reads nothing yet."""
    host, port = url.removeprefix("http://").split(":")
    sock = stack.enter_context(socket.socket())
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /video/{VIDEO_ID}/media HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
    return sock


def stalled_reader(url: str, stack: ExitStack) -> socket.socket:
    """A reader that reads the first bytes of the stream and then nothing more."""
    sock = reader(url, stack)
    sock.settimeout(10)
    assert b" 206 " in sock.recv(64), "the stream started"
    return sock


def test_readers_that_stop_reading_the_video_leave_the_pages_their_threads(page: str) -> None:
    with ExitStack() as stack:
        for _ in range(MEDIA_STREAMS):
            stalled_reader(page, stack)
        time.sleep(1)  # the server's threads fill their buffers and wait for the sockets
        started = time.monotonic()
        assert requests.get(page + "/", timeout=20).status_code == 200
        assert requests.get(page + f"/video/{VIDEO_ID}", timeout=20).status_code == 200
        assert time.monotonic() - started < 10
        refused = requests.get(page + f"/video/{VIDEO_ID}/media", headers={"Range": "bytes=0-"}, timeout=20,
                               stream=True)
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
        assert 'class="topbar"' in refused.text and "as many videos at once as it may" in refused.text
    # The readers gone, their streams end and the video plays again.
    deadline = time.monotonic() + 20
    while (answer := requests.get(page + f"/video/{VIDEO_ID}/media", headers={"Range": "bytes=0-99"},
                                  timeout=20)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert answer.status_code == 206 and answer.content == bytes(100)


def test_many_slow_readers_of_the_video_leave_the_pages_their_threads(page: str) -> None:
    with ExitStack() as stack:
        readers = [reader(page, stack, headers="") for _ in range(12)]  # more than the server has threads
        time.sleep(1)
        statuses: set[bytes] = set()
        for _ in range(3):  # each reads a little now and then
            for sock in readers:
                sock.settimeout(0.05)
                with suppress(TimeoutError):
                    statuses.add(sock.recv(1024)[9:12])
            assert requests.get(page + "/", timeout=20).status_code == 200
        assert b"200" in statuses and b"503" in statuses, statuses


def test_a_reader_that_stopped_reading_is_dropped_after_the_send_timeout_and_frees_its_stream(
        page_files: tuple[AnalyticsStore, Path]) -> None:
    # Waitress's channel timeout spares a channel with a request in flight: a paused player or a stalled script
    # held its thread and its stream for good. The kernel now drops it once nothing it was sent is taken for
    # the send timeout (TCP_USER_TIMEOUT: 60 s; 2 s here).
    store, root = page_files
    server = WebServer(create_app(store, {"ALLOWED_ROOT": str(root), "MEDIA_STREAMS": 1}), "127.0.0.1", 0,
                       send_timeout_s=2)
    url = f"http://127.0.0.1:{server.port}"
    try:
        with ExitStack() as stack:
            sock = stalled_reader(url, stack)
            assert requests.get(url + f"/video/{VIDEO_ID}/media", timeout=20).status_code == 503
            deadline = time.monotonic() + 30
            while (answer := requests.get(url + f"/video/{VIDEO_ID}/media", headers={"Range": "bytes=0-99"},
                                          timeout=20)).status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert answer.status_code == 206 and answer.content == bytes(100), "the stalled stream's slot is free"
            sock.settimeout(5)
            with pytest.raises(ConnectionResetError):  # dropped: what it had not read is gone
                while sock.recv(1 << 20):
                    pass
    finally:
        server.shutdown()
