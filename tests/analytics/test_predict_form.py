"""The Predict form in headless Chromium: Predict with nobody picked is held by the browser, saying to pick
someone, instead of a page identical to the one the analyst came from."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving


def _store(path: Path) -> AnalyticsStore:
    store = AnalyticsStore(path)
    for k, cast in enumerate((("inf_aaaa000001",), ("inf_aaaa000001", "inf_bbbb000002"), ("inf_bbbb000002",))):
        video_id = f"{k:016x}"
        store.record_video(VideoRow(f"https://cdn.example.com/{k}.mp4", video_id, 1.0 + k, DONE, duration_s=5.0),
                           [AppearanceRow(video_id, i, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg") for i in cast])
    return store


def test_predict_with_nobody_picked_is_held_by_the_browser_and_with_someone_picked_answers(
        tmp_path: Path, page: Page) -> None:
    # Found as an analyst (session 42): Predict with nobody picked sent "/predict?" and came back with the bare
    # form, no prediction and no word of why: it read as a button that did nothing.
    store = _store(tmp_path / "a.sqlite")
    try:
        with serving(create_app(store)) as url:
            for start in ("/predict", "/"):  # the page of its own, and the overview's form
                page.goto(url + start, wait_until="load")
                page.get_by_role("button", name="Predict performance").click()
                page.wait_for_timeout(300)
                assert page.url == url + start, "no request was sent"
                assert page.locator("select#ids").evaluate("s => s.validity.valueMissing")
            page.locator("select#ids").select_option("inf_aaaa000001")
            page.get_by_role("button", name="Predict performance").click()
            page.wait_for_url("**/predict?ids=inf_aaaa000001")
            assert "is expected to score" in page.locator("main").inner_text()
    finally:
        store.close()
