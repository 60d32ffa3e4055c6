"""A timeline's bars are what is clicked to watch a moment (README, step 4): in headless Chromium, a click
anywhere on a bar, the orange tick of its best face included, opens the video there (an influencer's page)
or seeks the player there (a video's page)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving

VIDEO = "00000000000000a1"


def _store(path: Path) -> AnalyticsStore:
    """One 10 s video in which inf_aaaa000001 is seen from 2 s to 8 s, the best face at 5 s (mid-bar)."""
    store = AnalyticsStore(path)
    store.record_video(VideoRow("https://cdn.example.com/a.mp4", VIDEO, 1.0, DONE, duration_s=10.0),
                       [AppearanceRow(VIDEO, "inf_aaaa000001", 2.0, 8.0, 6, 6.0, 0.9, b"\xff\xd8jpeg",
                                      segments=((2.0, 8.0, 5.0),))])
    return store


def test_a_click_on_the_best_face_tick_of_a_bar_opens_the_video_from_that_bar(tmp_path: Path, page: Page) -> None:
    store = _store(tmp_path / "a.sqlite")
    with serving(create_app(store)) as url:
        page.goto(url + "/influencer/inf_aaaa000001", wait_until="domcontentloaded")
        tick = page.locator("svg.timeline line.best").first.bounding_box()
        assert tick
        page.mouse.click(tick["x"] + tick["width"] / 2, tick["y"] + tick["height"] / 2)
        page.wait_for_url(f"**/video/{VIDEO}?t=2.00", timeout=5000)
        target = page.evaluate("""() => { const r = document.querySelector('svg.timeline line.best')
            .getBoundingClientRect(); const e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return e && e.closest('[data-seek]') ? e.closest('[data-seek]').dataset.seek : null }""")
        assert target == "2.00", "on the video page too, the tick lets the click through to its bar"
    store.close()


DEV_VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dev" / "videos"


def test_a_bar_clicked_on_the_influencer_page_plays_the_video_from_that_moment(tmp_path: Path, page: Page) -> None:
    # README, step 4: "click a moment to watch it". Was: the video page opened at that moment, paused
    clip = DEV_VIDEOS / "v0001.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not present")
    store = AnalyticsStore(tmp_path / "a.sqlite")
    store.record_video(VideoRow("videos/v0001.mp4", VIDEO, 1.0, DONE, duration_s=10.6, location=str(clip)),
                       [AppearanceRow(VIDEO, "inf_aaaa000001", 2.0, 8.0, 6, 6.0, 0.9, b"\xff\xd8jpeg",
                                      segments=((2.0, 8.0, 5.0),))])
    with serving(create_app(store, {"ALLOWED_ROOT": str(DEV_VIDEOS)})) as url:
        page.goto(url + "/influencer/inf_aaaa000001", wait_until="domcontentloaded")
        page.locator(f"a[href='/video/{VIDEO}?t=2.00']").click(position={"x": 10, "y": 10})
        page.wait_for_url(f"**/video/{VIDEO}?t=2.00", timeout=5000)
        page.wait_for_function("() => { const v = document.getElementById('player');"
                               " return v && !v.paused && v.currentTime > 2.0 }", timeout=15_000)
        assert page.evaluate("document.getElementById('player').currentTime") < 6.0
    store.close()
