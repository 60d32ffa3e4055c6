"""The page's message after a merge says when the one kept is hidden: a hide holds for the person, so a merge with
a hidden influencer hides the one kept (docs/identity.md), and it leaves the overview."""

from __future__ import annotations

import re
from html import unescape

from services.analytics.audit import AuditRow
from services.analytics.store import AnalyticsStore, Label
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE

KEPT, GONE = "inf_aaaa000001", "inf_eeee000005"


def _text(html: str) -> str:
    """The page's text as one line, each name's isolating <bdi> aside (test_bidi_names.py)."""
    return " ".join(unescape(re.sub(r"</?bdi>", "", html)).split())


def message_after(store: AnalyticsStore, hidden: bool) -> str:
    row = AuditRow("a" * 32, "merge", "page", 1.8e9, before_ids=(GONE,), after_ids=(KEPT,), names={KEPT: "Alice"},
                   videos=1, undoable=True)
    store.apply_changes(store.feed_position() + 1, {}, {}, [Label(KEPT, "Alice", hidden=hidden)], audit=row)
    client = create_app(store).test_client()
    client.set_cookie(DONE_COOKIE, row.audit_id)
    return _text(client.get("/audit").get_data(as_text=True))


def test_a_merge_that_kept_a_hidden_influencer_says_so_and_how_to_count_them(
        analytics_store: AnalyticsStore) -> None:
    # Was "Merged inf_eeee000005 into Alice: 1 video" alone, and Alice was gone from the overview
    assert ("Merged inf_eeee000005 into Alice: 1 video. Alice is hidden (not an influencer), as one of those merged "
            "was: left out of the statistics until shown again (Unhide, in the hidden list)") in message_after(
                analytics_store, hidden=True)


def test_a_merge_that_kept_a_shown_influencer_says_nothing_of_hiding(analytics_store: AnalyticsStore) -> None:
    text = message_after(analytics_store, hidden=False)
    assert "Merged inf_eeee000005 into Alice: 1 video" in text and "is hidden" not in text


def test_the_message_of_an_answer_about_two_namesakes_names_each_by_its_id(analytics_store: AnalyticsStore) -> None:
    # Was "Kept Alice and Alice apart": the same sentence as the CLI's (audit.describe)
    row = AuditRow("b" * 32, "review different", "page", 1.8e9, before_ids=(KEPT, GONE), after_ids=(KEPT, GONE),
                   names={KEPT: "Alice", GONE: "Alice"}, undoable=True)
    analytics_store.apply_changes(analytics_store.feed_position() + 1, {}, {}, [], audit=row)
    client = create_app(analytics_store).test_client()
    client.set_cookie(DONE_COOKIE, row.audit_id)
    assert f"Kept Alice ({KEPT}) and Alice ({GONE}) apart" in _text(client.get("/audit").get_data(as_text=True))
