"""Names of any shape in headless Chromium at 800 px: a 200-character name without a blank wraps instead of
widening the page or pushing the overview's other columns out of view, on every page that shows it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import CHROMIUM, CHROMIUM_ARGS, FakeCorrections, serving

LONG = "W" * 200  # the longest name identity keeps (services/common/name_text.py)
PAGES = ["/", "/influencer/inf_aaaa000001", "/influencer/inf_dddd000004", "/influencer/inf_aaaa000001/delete",
         "/predict?ids=inf_aaaa000001&ids=inf_dddd000004", "/review?unlikely=1", f"/video/{0:016x}"]


def _store(path: Path) -> AnalyticsStore:
    store = AnalyticsStore(path)
    cast = {"inf_aaaa000001": (0, 1, 2), "inf_cccc000003": (1, 2), "inf_dddd000004": (0, 2)}
    for k in range(3):
        video_id = f"{k:016x}"
        store.record_video(VideoRow(f"https://cdn.example.com/{k}.mp4", video_id, 1.0 + k, DONE, duration_s=5.0),
                           [AppearanceRow(video_id, i, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")
                            for i, ks in cast.items() if k in ks])
    store.replace_appearances({}, {"inf_aaaa000001": LONG, "inf_dddd000004": "مرحبا بالعالم 42"})
    return store


def test_a_200_character_name_wraps_on_every_page_at_800_px(tmp_path: Path) -> None:
    store = _store(tmp_path / "a.sqlite")
    with serving(create_app(store, corrections=FakeCorrections())) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 900})
            page.goto(url + "/", wait_until="domcontentloaded")
            box = page.locator("#influencers").bounding_box()  # its scroll box hid the columns after the name
            assert box and box["x"] + box["width"] <= 800
            for path in PAGES:
                page.goto(url + path, wait_until="domcontentloaded")
                assert page.evaluate("document.documentElement.scrollWidth") <= 800, path
        finally:
            browser.close()
    store.close()
