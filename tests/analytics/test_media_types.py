"""The player's file is served as a video, whatever its name: a file that decodes as a video can also be a web
page (an MP4 whose free box holds a <script>), and served under the page's origin as text/html its script ran
with the analyst's session. Checked in headless Chromium when the fix was made: `document.title` set by the
file's script."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app

VIDEO = "00000000000000a1"
POLYGLOT = (b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\x40free<script>document.title='pwned'</script>"
            + bytes(range(256)) * 4)


def _media(tmp_path: Path, name: str):  # noqa: ANN202
    root = tmp_path / "videos"
    root.mkdir()
    (root / name).write_bytes(POLYGLOT)
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url=name, video_id=VIDEO, performance=1.0, status=DONE, duration_s=10.0, faces=1,
                                location=str(root / name)),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    answer = create_app(store, {"ALLOWED_ROOT": str(root)}).test_client().get(f"/video/{VIDEO}/media")
    store.close()
    return answer


@pytest.mark.parametrize("name", ["promo.html", "promo.htm", "promo.svg", "promo.xhtml", "promo.js", "promo.pdf",
                                  "promo.txt", "promo"])
def test_a_video_named_like_a_page_or_script_is_served_as_bytes_no_browser_runs(tmp_path: Path, name: str) -> None:
    answer = _media(tmp_path, name)
    assert answer.status_code == 200
    assert answer.mimetype == "application/octet-stream", answer.mimetype
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "kind"), [("clip.mp4", "video/mp4"), ("clip.webm", "video/webm"),
                                            ("clip.mov", "video/quicktime"), ("clip.MKV", "video/x-matroska"),
                                            ("clip.ts", "video/mp2t")])
def test_a_video_keeps_its_video_type_for_the_player(tmp_path: Path, name: str, kind: str) -> None:
    answer = _media(tmp_path, name)
    assert answer.status_code == 200 and answer.mimetype == kind
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
