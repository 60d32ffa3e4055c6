"""The video page's player in Chromium on a long local file (135 MB, past what waitress buffers whole): its
ranges are answered 8 MiB at a time (so that no reader holds a server thread), and it follows them, asking for
the next; paused long enough for the server to drop its connection (the send timeout), it plays on, with no
failed request. The socket-level tests (test_media_slow_readers) show the threads; this shows the player."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from influencers.stack import WebServer
from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.media import LONGEST_RANGE
from tests.support.browser import chromium

VIDEO_ID = "00000000000000a1"
SECONDS = 40


def noise_video(path: Path) -> None:
    """SECONDS of random pixels at 25 fps, 320x240, H.264 lossless: about 3.4 MB a second, moov first."""
    import av

    rng = np.random.default_rng(7)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"qp": "0", "preset": "ultrafast"}
        for _ in range(25 * SECONDS):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_a_paused_player_of_a_long_local_video_plays_on_after_its_connection_is_dropped(tmp_path: Path) -> None:
    noise_video(tmp_path / "long.mp4")
    assert (tmp_path / "long.mp4").stat().st_size > 100 * 2**20
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="long.mp4", video_id=VIDEO_ID, performance=1.0, status=DONE,
                                duration_s=float(SECONDS), faces=1, location=str(tmp_path / "long.mp4")),
                       [AppearanceRow(VIDEO_ID, "inf_00000000a1", 0.5, 6.0, 2, 2.5, 0.8, b"", False)])
    server = WebServer(create_app(store, {"ALLOWED_ROOT": str(tmp_path)}), "127.0.0.1", 0, send_timeout_s=2)
    statuses: list[int] = []
    ranges: list[str] = []
    try:
        with chromium("--autoplay-policy=no-user-gesture-required") as browser:
            page = browser.new_page()
            page.on("response", lambda r: "/media" in r.url and (statuses.append(r.status),
                                                                  ranges.append(r.headers.get("content-range", ""))))
            page.goto(f"http://127.0.0.1:{server.port}/video/{VIDEO_ID}")
            page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=20_000)
            page.evaluate("document.getElementById('player').play()")
            time.sleep(1.5)
            page.evaluate("document.getElementById('player').pause()")
            time.sleep(6)  # past the send timeout: the server drops what the paused player no longer reads
            page.evaluate("document.getElementById('player').play()")
            page.wait_for_function("() => document.getElementById('player').currentTime > 12", timeout=40_000)
            assert page.evaluate("document.getElementById('player').error") is None
    finally:
        server.shutdown()
        store.close()
    assert statuses and all(s in (200, 206, 304) for s in statuses), statuses
    cut = [r for r in ranges if r.startswith("bytes ") and
           int(r.split("-")[1].split("/")[0]) - int(r[6:].split("-")[0]) + 1 == LONGEST_RANGE]
    assert len(cut) >= 2, ranges  # it went on after ranges cut short
