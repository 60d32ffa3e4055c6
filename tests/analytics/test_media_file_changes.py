"""The player's file cut short while it is being sent (the analyst replacing or re-encoding it, a download
rewriting it): the answer ends, its connection closed, and the server goes on. Over waitress, as served."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import requests

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving

VIDEO = "00000000000000a1"
SIZE = 8 << 20  # more than a socket takes at once: the server is still sending when the file is cut


def test_a_file_cut_short_while_it_is_sent_ends_the_answer_and_closes_the_connection(tmp_path: Path) -> None:
    """Waitress's sendfile-like buffer (wsgi.file_wrapper) kept trying to send the missing bytes: the client
    waited for them until waitress's two-minute channel timeout, and the server's loop spun on the empty reads
    (3.7 CPU seconds in 10 s). Now the answer ends with the file and waitress closes the connection, as it
    does for any body shorter than its Content-Length (a player then asks again for what it lacks)."""
    root = tmp_path / "videos"
    root.mkdir()
    clip = root / "clip.mp4"
    clip.write_bytes(b"v" * SIZE)
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="clip.mp4", video_id=VIDEO, performance=1.0, status=DONE, duration_s=10.0,
                                faces=1, location=str(clip)),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    with serving(create_app(store, {"ALLOWED_ROOT": str(root)})) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(f"GET /video/{VIDEO}/media HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = client.recv(4096)
            assert head.startswith(b"HTTP/1.1 200") and f"Content-Length: {SIZE}".encode() in head
            os.truncate(clip, 1 << 20)
            received, started, closed = len(head), time.monotonic(), False
            while time.monotonic() - started < 10:
                try:
                    chunk = client.recv(1 << 20)
                except TimeoutError:
                    break
                if not chunk:
                    closed = True
                    break
                received += len(chunk)
            assert closed, "the connection was left waiting for bytes the file no longer has"
            assert received < SIZE
        assert requests.get(url + "/", timeout=10).status_code == 200, "the server goes on"
    store.close()
