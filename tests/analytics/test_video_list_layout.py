"""The Videos page at 800 px in headless Chromium: a manifest's usual `videos/v0135.mp4` stays on one line
beside long failure messages, instead of the URL column shrinking to a few letters (its text may break
anywhere, so it was the one squeezed) while the mostly empty Error column took the room."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from services.analytics.records import DONE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving

LONG_ERROR = ("https://cdn.example.com/x.mp4: not a video (a web page, HTML: the URL must give the video file "
              "itself, not the page that plays it)")


def test_a_short_url_stays_on_one_line_beside_long_errors_at_800_px(tmp_path: Path, page: Page) -> None:
    store = AnalyticsStore(tmp_path / "a.sqlite")
    for k in range(3):
        store.record_video(VideoRow(f"videos/v01{k}5.mp4", f"{k:016x}", 1.0, DONE, duration_s=5.0), [])
    store.record_video(VideoRow("https://cdn.example.com/x.mp4", "", 2.0, FAILED, error=LONG_ERROR), [])
    with serving(create_app(store)) as url:
        page.set_viewport_size({"width": 800, "height": 900})
        page.goto(url + "/videos", wait_until="domcontentloaded")
        lines = page.locator("#video-list td.url a").first.evaluate("a => a.getClientRects().length")
        assert lines == 1, "videos/v0105.mp4 was cut in two lines"
        assert page.evaluate("document.documentElement.scrollWidth") <= 800
    store.close()
