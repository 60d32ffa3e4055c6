"""A key held down on the review queue answers one pair: the browser's auto-repeat (keydown events with
`repeat` set, some 30 a second after half a second) answered the next pair too, once the first was done, so
a "y" held a moment long merged a pair nobody looked at."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from services.analytics.web import create_app
from tests.analytics.test_analytics_web import CHROMIUM, CHROMIUM_ARGS, FakeCorrections, serving
from tests.analytics.test_review_keys import _store

REPEAT = "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'y', repeat: true, bubbles: true}))"


def test_the_auto_repeat_of_a_held_key_answers_no_pair(tmp_path: Path) -> None:
    store, fake = _store(tmp_path / "a.sqlite"), FakeCorrections()
    with serving(create_app(store, corrections=fake)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/review?unlikely=1", wait_until="load")
            assert page.locator("li.review-item").count() == 2
            page.keyboard.press("s")  # the key going down: the first pair answered
            page.wait_for_function("document.querySelectorAll('li.review-item').length === 1")
            for _ in range(5):  # then held: the repeats of "y"
                page.evaluate(REPEAT)
            page.wait_for_timeout(500)
            assert page.locator("li.review-item").count() == 1
        finally:
            browser.close()
    store.close()
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "skip")]
