"""Readers of the player's video that read slowly or not at all, over real sockets and the real server. Waitress
blocks a response's thread once 16 MiB of it wait for the socket, and its channel timeout spares a channel with
a request in flight: eight players paused on a long video (each holding its open-ended range) left every page
unanswered, for good. A range is now answered with its first 8 MiB at most (waitress buffers it and frees the
thread), whole-file answers past 16 MiB are bounded (503 with Retry-After past MEDIA_STREAMS), and a reader that
takes nothing for the send timeout is dropped."""

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
from services.analytics.web.media import LONGEST_RANGE, MEDIA_STREAMS
from tests.analytics.test_analytics_web import serving

VIDEO_ID = "00000000000000a1"
SIZE = 64 * 2**20  # past waitress's 16 MiB output buffer and the sockets' own buffers
PLAYER = "Range: bytes=0-\r\n"  # a player's first request: the whole video, from byte 0
SCRIPT = ""  # a GET of the whole file without Range


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


def reader(url: str, stack: ExitStack, headers: str) -> socket.socket:
    """A connection asking for the video with `headers`, with a tiny receive buffer (the server's sends soon
    wait for it), that reads nothing yet."""
    host, port = url.removeprefix("http://").split(":")
    sock = stack.enter_context(socket.socket())
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /video/{VIDEO_ID}/media HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
    return sock


def stalled_reader(url: str, stack: ExitStack, headers: str) -> bytes:
    """A reader that reads the first bytes of its answer (returned) and then nothing more."""
    sock = reader(url, stack, headers)
    sock.settimeout(10)
    return sock.recv(4096)


def until_streamed(media: str, within_s: float) -> int:
    """The status of a GET of the whole video (its body left unread), asked again while 503 for up to
    `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        with requests.get(media, timeout=20, stream=True) as answer:
            if answer.status_code != 503 or time.monotonic() > deadline:
                return answer.status_code
        time.sleep(0.3)


def pages_answer(url: str) -> None:
    started = time.monotonic()
    assert requests.get(url + "/", timeout=20).status_code == 200
    assert requests.get(url + f"/video/{VIDEO_ID}", timeout=20).status_code == 200
    assert time.monotonic() - started < 10


def test_players_that_stop_reading_hold_no_thread_and_the_pages_and_video_answer(page: str) -> None:
    with ExitStack() as stack:
        heads = [stalled_reader(page, stack, PLAYER) for _ in range(12)]  # more than the server has threads
        time.sleep(1)  # the server has sent what the sockets take
        pages_answer(page)
        for head in heads:  # the first 8 MiB, which the server buffers whole
            assert b" 206 " in head and f"bytes 0-{LONGEST_RANGE - 1}/{SIZE}".encode() in head, head[:300]
        rest = requests.get(page + f"/video/{VIDEO_ID}/media", headers={"Range": f"bytes={SIZE - 100}-"}, timeout=20)
        assert rest.status_code == 206 and rest.content == bytes(100), "the next range a player asks for"


def test_whole_file_readers_that_stop_reading_are_bounded_and_the_pages_answer(page: str) -> None:
    with ExitStack() as stack:
        for _ in range(MEDIA_STREAMS):
            assert b" 200 " in stalled_reader(page, stack, SCRIPT)
        time.sleep(1)  # the server's threads fill their buffers and wait for the sockets
        pages_answer(page)
        refused = requests.get(page + f"/video/{VIDEO_ID}/media", timeout=20)
        assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
        assert 'class="topbar"' in refused.text and "as many videos at once as it may" in refused.text
        # What the server buffers whole holds no thread: ranges, 304s and HEADs go on.
        part = requests.get(page + f"/video/{VIDEO_ID}/media", headers={"Range": "bytes=100-2000099"}, timeout=20)
        assert part.status_code == 206 and part.content == bytes(2_000_000)
        assert requests.get(page + f"/video/{VIDEO_ID}/media", headers={"If-None-Match": part.headers["ETag"]},
                            timeout=20).status_code == 304
        assert requests.head(page + f"/video/{VIDEO_ID}/media", timeout=20).status_code == 200
    # The readers gone, their streams end and the whole file is sent again.
    assert until_streamed(page + f"/video/{VIDEO_ID}/media", 20) == 200


def test_many_slow_readers_of_the_whole_file_leave_the_pages_their_threads(page: str) -> None:
    with ExitStack() as stack:
        readers = [reader(page, stack, SCRIPT) for _ in range(12)]  # more than the server has threads
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
    # Waitress's channel timeout spares a channel with a request in flight: a stalled script held its thread and
    # its stream for good. The kernel now drops it once nothing it was sent is taken for the send timeout
    # (TCP_USER_TIMEOUT: 60 s; 2 s here).
    store, root = page_files
    server = WebServer(create_app(store, {"ALLOWED_ROOT": str(root), "MEDIA_STREAMS": 1}), "127.0.0.1", 0,
                       send_timeout_s=2)
    url = f"http://127.0.0.1:{server.port}"
    try:
        with ExitStack() as stack:
            sock = reader(url, stack, SCRIPT)
            sock.settimeout(10)
            assert b" 200 " in sock.recv(64)
            assert until_streamed(url + f"/video/{VIDEO_ID}/media", 0) == 503
            assert until_streamed(url + f"/video/{VIDEO_ID}/media", 30) == 200, "the stalled stream is freed"
            with pytest.raises(ConnectionResetError):  # dropped: what it had not read is gone
                while sock.recv(1 << 20):
                    pass
    finally:
        server.shutdown()
