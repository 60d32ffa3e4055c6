"""The Predict form in headless Chromium: each influencer a tick by face and name; Predict waits until someone is
ticked, instead of a page identical to the one the analyst came from."""

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


def test_predict_waits_for_someone_ticked_and_lists_each_by_face_and_name(tmp_path: Path, page: Page) -> None:
    # Found as an analyst (session 42): Predict with nobody picked sent "/predict?" and came back with the bare
    # form, no prediction and no word of why: it read as a button that did nothing. Then (session 45): the list
    # was a list box of "Unnamed · inf_…" lines, several picked with Ctrl/⌘+click; now ticks by face and name.
    store = _store(tmp_path / "a.sqlite")
    store.replace_appearances({}, {"inf_bbbb000002": "Bea"})
    try:
        with serving(create_app(store)) as url:
            for start in ("/predict", "/"):  # the page of its own, and the overview's form
                page.goto(url + start, wait_until="load")
                assert page.get_by_role("button", name="Predict performance").is_disabled(), "waits for a tick"
                shown = page.locator("#ids li").evaluate_all(
                    "ls => ls.map(l => [l.querySelector('.name').textContent, l.querySelector('.id').textContent])")
                assert shown == [["Bea", "inf_bbbb000002"], ["Unnamed", "inf_aaaa000001"]], shown
            page.get_by_label("Unnamed inf_aaaa000001").check()
            page.get_by_label("Bea inf_bbbb000002").check()
            page.get_by_role("button", name="Predict performance").click()
            page.wait_for_url("**/predict?ids=inf_bbbb000002&ids=inf_aaaa000001")
            assert "is expected to score" in page.locator("main").inner_text()
            ticked = page.locator("#ids input:checked").evaluate_all("bs => bs.map(b => b.value)")
            assert ticked == ["inf_bbbb000002", "inf_aaaa000001"], "the people predicted stay ticked"
    finally:
        store.close()
