"""The review queue's keys in headless Chromium, over a fake identity: one answer per pair however fast the
keys come (or however long one is held), and the counts on the page follow each answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from playwright.sync_api import Page, Route

from services.analytics.audit import AuditRow
from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections, serving

# The browser's auto-repeat of a held key: keydown events with `repeat` set, some 30 a second.
REPEAT = "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'y', repeat: true, bubbles: true}))"


def _store(path: Path) -> AnalyticsStore:
    store = AnalyticsStore(path)
    for k, cast in enumerate((("inf_aaaa000001", "inf_dddd000004"), ("inf_cccc000003", "inf_dddd000004"))):
        video_id = f"{k:016x}"
        store.record_video(VideoRow(f"https://cdn.example.com/{k}.mp4", video_id, 1.0 + k, DONE, duration_s=5.0),
                           [AppearanceRow(video_id, i, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg") for i in cast])
    return store


@contextmanager
def review_page(page: Page, tmp_path: Path, prepare: Callable[[Page], None] = lambda page: None,
                ) -> Iterator[FakeCorrections]:
    """The queue of two pairs (one under the floor, shown) opened in `page` (Chromium at 1280 px), `prepare`
    applied to the page before it loads; the fake identity that records each answer."""
    store, fake = _store(tmp_path / "a.sqlite"), FakeCorrections()
    try:
        with serving(create_app(store, corrections=fake)) as url:
            prepare(page)
            page.goto(url + "/review?unlikely=1", wait_until="load")
            assert page.locator("li.review-item").count() == 2
            yield fake
    finally:
        store.close()


def test_a_key_pressed_twice_before_the_reply_answers_the_pair_once_and_the_dismiss_count_follows(
        tmp_path: Path, page: Page) -> None:
    held: list[Route] = []
    dialogs: list[str] = []

    def hold(route: Route) -> None:  # the request waits until let go
        held.append(route)

    def prepare(page: Page) -> None:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.route("**/api/review/answer.json", hold)

    with review_page(page, tmp_path, prepare) as fake:
        page.keyboard.press("n")
        page.keyboard.press("n")
        page.wait_for_timeout(300)
        assert len(held) == 1
        held[0].continue_()
        page.wait_for_function("() => document.querySelectorAll('li.review-item').length === 1")
        assert page.locator("#dismiss-page button").inner_text() == "None of these are the same (1)"
        assert page.locator("#dismiss-page input[name=pair]").count() == 1
        assert dialogs == []
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "different")]


def test_answering_a_less_likely_pair_in_place_counts_it_off(tmp_path: Path, page: Page) -> None:
    with review_page(page, tmp_path):
        assert page.locator("#review-count").inner_text().startswith("1 left to answer, and 1 less likely")
        assert page.locator("#hide-unlikely").is_visible()
        page.keyboard.press("j")  # the second pair, the one under the floor
        page.keyboard.press("s")
        page.wait_for_function("() => document.querySelectorAll('li.review-item').length === 1")
        assert page.locator("#review-count").inner_text().startswith("1 left to answer, and 0 less likely")
        assert not page.locator("#hide-unlikely").is_visible(), "nothing under the floor is left to hide"
        assert page.locator("li.review-divider").count() == 0, "the Less likely heading left with its last pair"


def test_the_auto_repeat_of_a_held_key_answers_no_pair(tmp_path: Path, page: Page) -> None:
    # It answered the next pair too, once the first was done: a "y" held a moment long merged a pair nobody
    # looked at.
    with review_page(page, tmp_path) as fake:
        page.keyboard.press("s")  # the key going down: the first pair answered
        page.wait_for_function("() => document.querySelectorAll('li.review-item').length === 1")
        for _ in range(5):  # then held: the repeats of "y"
            page.evaluate(REPEAT)
        page.wait_for_timeout(500)
        assert page.locator("li.review-item").count() == 1
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "skip")]


def test_tabbing_into_a_pair_highlights_it_and_the_keys_answer_that_pair(tmp_path: Path, page: Page) -> None:
    # Before: Tab moved the keyboard into the second pair's links and buttons while the highlight stayed on the
    # first, and "n" answered the first pair, one the analyst had tabbed away from
    in_second = "document.activeElement.closest('li.review-item') === document.querySelectorAll('li.review-item')[1]"
    with review_page(page, tmp_path) as fake:
        pairs = page.locator("li.review-item")
        assert "current" in (pairs.nth(0).get_attribute("class") or "")
        for _ in range(40):  # the first pair's links and buttons, then the second's
            if page.evaluate(in_second) and page.evaluate("document.activeElement.tagName") != "INPUT":
                break
            page.keyboard.press("Tab")
        assert page.evaluate(in_second), "Tab reaches the second pair"
        assert "current" in (pairs.nth(1).get_attribute("class") or "")
        assert "current" not in (pairs.nth(0).get_attribute("class") or "")
        page.keyboard.press("n")
        page.wait_for_function("() => document.querySelectorAll('li.review-item').length === 1")
    assert fake.calls == [("answer", "inf_cccc000003", "inf_dddd000004", "different")]


def test_an_answer_in_place_takes_down_the_notice_the_page_came_with(tmp_path: Path, page: Page) -> None:
    # Found walking the queue (session 40): after an undo or a naming, the page's notice of it stayed at the top
    # while "n" put "Kept A and B apart" below it: two notices, the older one first, read as this answer's.
    store, fake = _store(tmp_path / "a.sqlite"), FakeCorrections()
    before = AuditRow(f"{1:032x}", "rename", "page:open:7fe78d86", 1.8e9, before_ids=("inf_cccc000003",),
                      after_ids=("inf_cccc000003",), after_name="Ann", videos=1, undoable=True)
    store.apply_changes(1, {}, {}, audit=before)
    try:
        with serving(create_app(store, corrections=fake)) as url:
            page.context.add_cookies([{"name": DONE_COOKIE, "value": before.audit_id, "url": url}])
            page.goto(url + "/review?unlikely=1", wait_until="load")
            assert "'Ann'" in page.locator("#feedback").inner_text(), "the naming's notice, as the page came with it"
            page.keyboard.press("n")
            page.wait_for_function("() => !document.getElementById('answer-feedback').hidden")
            assert page.locator("#feedback").is_hidden()
            assert page.locator("#answer-feedback").is_visible()
    finally:
        store.close()
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "different")]


def test_typing_a_name_into_a_pairs_name_box_answers_no_pair_and_keeps_every_letter(
        tmp_path: Path, page: Page) -> None:
    # Found walking the queue (session 42): a click into a pair's "Add a name" box highlighted the pair by
    # focusing it, which took the focus out of the box; "Sydney Jones" then went to the keys: s skipped one pair,
    # y merged the next, n kept two apart, and the box stayed empty
    with review_page(page, tmp_path) as fake:
        box = page.locator("li.review-item").nth(0).locator("input[name=name]").first
        box.click()
        page.keyboard.type("Sydney Jones")
        page.wait_for_timeout(300)
        assert box.input_value() == "Sydney Jones"
        assert page.locator("li.review-item").count() == 2
        assert "current" in (page.locator("li.review-item").nth(0).get_attribute("class") or "")
    assert fake.calls == []


def test_a_key_answering_a_pair_another_session_merged_lands_on_the_queue_saying_so_and_by_what(
        tmp_path: Path, page: Page) -> None:
    """It was an alert quoting identity's refusal ("no influencer …: it was merged into …"), the pair left in the
    list to be answered again; now it lands where the form without scripts does: the queue, saying so."""
    store, fake = _store(tmp_path / "a.sqlite"), FakeCorrections(refuse=grpc.StatusCode.NOT_FOUND)
    merged = AuditRow(f"{2:032x}", "review same", "page:open:7fe78d86", 1.8e9,
                      before_ids=("inf_aaaa000001", "inf_dddd000004"), after_ids=("inf_aaaa000001",), videos=1)
    store.apply_changes(1, {}, {}, audit=merged)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        with serving(create_app(store, corrections=fake)) as url:
            page.goto(url + "/review?unlikely=1", wait_until="load")
            page.keyboard.press("n")
            page.wait_for_selector("#not-saved")
            said = page.locator("#not-saved").inner_text()
            assert said.startswith("Your answer “different” for inf_aaaa000001 and inf_dddd000004 was not saved: "
                                   "they are one person already. Merged "), said
            assert "unlikely=1" in page.url and dialogs == []
    finally:
        store.close()


class _UndoableAnswers(FakeCorrections):
    """Answers with the audit id of a "different" kept in the store, undoable; records each undo."""

    def answer(self, influencer_a: str, influencer_b: str, answer: str, wait: bool = True) -> Written:
        super().answer(influencer_a, influencer_b, answer, wait)
        return Written(0, len(self.calls), True, "d" * 32)

    def undo(self, audit_id: str) -> Written:
        return self._call("undo", audit_id)


def test_the_undo_of_an_answer_in_place_lands_back_on_that_pair_not_at_the_top_of_the_queue(
        tmp_path: Path, page: Page) -> None:
    """It landed at the queue's top: the analyst answering pair 15 who took an answer back had to find it again."""
    store, fake = _store(tmp_path / "a.sqlite"), _UndoableAnswers()
    store.apply_changes(1, {}, {}, audit=AuditRow("d" * 32, "review different", "page", 1.0,
                                                  ("inf_cccc000003", "inf_dddd000004"),
                                                  ("inf_cccc000003", "inf_dddd000004"), undoable=True))
    try:
        with serving(create_app(store, corrections=fake)) as url:
            page.set_viewport_size({"width": 1280, "height": 300})  # the second pair is below the first screen
            page.goto(url + "/review?unlikely=1", wait_until="load")
            second = page.locator("li.review-item").nth(1).get_attribute("id")
            page.keyboard.press("j")
            page.keyboard.press("n")
            page.wait_for_function("() => document.querySelectorAll('li.review-item').length === 1")
            with page.expect_navigation():
                page.locator("#answer-feedback button").click()
            assert page.url.endswith(f"/review?unlikely=1#{second}")
            landed = page.locator(f"li.review-item[id='{second}']")
            assert "current" in (landed.get_attribute("class") or ""), "the keys answer that pair again"
            top = landed.evaluate("e => e.getBoundingClientRect().top")
            assert 0 <= top < 300, top
    finally:
        store.close()
    assert fake.calls[-1] == ("undo", "d" * 32)
