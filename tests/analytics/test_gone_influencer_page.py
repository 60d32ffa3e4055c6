"""An influencer id a correction took away (merged into another) keeps a page that says so: an old link, a
bookmark or an earlier export's id after a merge. Was: "There is no such page, influencer or video.", the same
as for an id that never was."""

from __future__ import annotations

import re
from html import unescape

from services.analytics.audit import AuditRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app


def applied(store: AnalyticsStore, row: AuditRow) -> AuditRow:
    store.apply_changes(store.feed_position() + 1, {}, {}, audit=row)
    return row


def text_of(store: AnalyticsStore, path: str) -> tuple[int, str]:
    answer = create_app(store).test_client().get(path)
    text = re.sub(r"</?bdi>", "", answer.get_data(as_text=True))  # each name isolated (test_bidi_names.py)
    return answer.status_code, " ".join(unescape(text).split())


def test_a_merged_away_id_says_whom_it_was_merged_into_when_and_links_there(
        analytics_store: AnalyticsStore) -> None:
    applied(analytics_store, AuditRow("a" * 32, "review same", "page", 1.8e9, before_ids=("inf_eeee000005",),
                                      after_ids=("inf_aaaa000001",), names={"inf_aaaa000001": "Alice"}, videos=1))
    status, text = text_of(analytics_store, "/influencer/inf_eeee000005")
    assert status == 404
    assert ("inf_eeee000005 is not an influencer any more: Merged inf_eeee000005 into Alice: 1 video "
            "(2027-01-15 08:00 UTC, on the Audit page).") in text
    assert 'See <a href="/influencer/inf_aaaa000001">Alice</a>.' in text


def test_an_id_that_never_was_or_whose_merge_was_undone_is_plainly_not_found(
        analytics_store: AnalyticsStore) -> None:
    merge = applied(analytics_store, AuditRow("b" * 32, "merge", "cli:ann", 1.8e9,
                                              before_ids=("inf_eeee000007",), after_ids=("inf_aaaa000001",)))
    applied(analytics_store, AuditRow("c" * 32, "undo", "cli:ann", 1.8e9 + 60, before_ids=("inf_aaaa000001",),
                                      after_ids=("inf_aaaa000001", "inf_eeee000007"), undoes=merge.audit_id))
    for gone in ("inf_eeee000007", "inf_nobody"):
        status, text = text_of(analytics_store, f"/influencer/{gone}")
        assert status == 404 and f"There is no influencer '{gone}': the report lists every influencer" in text
        assert "See " not in text


def test_a_merged_away_id_whose_survivor_is_gone_too_says_what_happened_without_a_dead_link(
        analytics_store: AnalyticsStore) -> None:
    applied(analytics_store, AuditRow("d" * 32, "merge", "cli:ann", 1.8e9, before_ids=("inf_eeee000008",),
                                      after_ids=("inf_eeee000009",)))
    status, text = text_of(analytics_store, "/influencer/inf_eeee000008")
    assert status == 404 and "Merged inf_eeee000008 into inf_eeee000009" in text and "See " not in text


def test_predict_with_a_merged_away_id_says_whom_it_was_merged_into(analytics_store: AnalyticsStore) -> None:
    # Was "Not known to the model (counted as the overall mean): inf_eeee000006" alone, as for an id that never was
    applied(analytics_store, AuditRow("e" * 32, "merge", "cli:ann", 1.8e9, before_ids=("inf_eeee000006",),
                                      after_ids=("inf_aaaa000001",), names={"inf_aaaa000001": "Alice"}, videos=2))
    status, text = text_of(analytics_store, "/predict?ids=inf_eeee000006&ids=inf_eeee00000a")
    assert status == 200
    assert ("Not known to the model (counted as the overall mean): <code>inf_eeee000006</code> (Merged "
            "inf_eeee000006 into Alice: 2 videos), <code>inf_eeee00000a</code>") in text


def test_an_id_out_of_pattern_or_a_video_nobody_has_is_named_on_its_404_page(analytics_store: AnalyticsStore) -> None:
    """Was "There is no such page, influencer or video." for each, naming neither the id nor its kind."""
    for path, said in (("/influencer/inf_zz", "There is no influencer 'inf_zz'"),
                       ("/video/zzzz", "There is no video 'zzzz'"),
                       ("/video/00000000000000a1", "There is no video '00000000000000a1'")):
        status, text = text_of(analytics_store, path)
        assert status == 404 and f"{said}: the report lists every influencer, and Videos every video." in text, text
    status, text = text_of(analytics_store, "/no-such-page")
    assert status == 404 and "There is no such page, influencer or video." in text
