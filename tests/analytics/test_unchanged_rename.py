"""A rename to the name the influencer has already (or a clear of no name) changes nothing: the page says so,
where it came back as after a rename, saying nothing."""

from __future__ import annotations

import re

from services.analytics.audit import AuditRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections


class SameName(FakeCorrections):
    """Identity answering every rename as one to the name the influencer has (no audit entry)."""

    def rename(self, influencer_id: str, name: str) -> Written:
        self.calls.append(("rename", influencer_id, name))
        return Written(0, 7, unchanged=True)


def _token(client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert found is not None
    return found.group(1)


def test_a_rename_to_the_name_it_has_comes_back_saying_it_is_already_named_so(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=SameName()).test_client()
    renamed = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": _token(client), "name": "Alice"})
    assert renamed.status_code == 303
    assert renamed.headers["Location"] == "/influencer/inf_aaaa000001?unchanged=inf_aaaa000001"
    shown = client.get(renamed.headers["Location"]).get_data(as_text=True)
    assert "inf_aaaa000001 is already named &#39;Alice&#39;: nothing changed." in shown
    undo_back = re.search(r'name="next" value="([^"]*)"', shown)
    assert undo_back is None or "unchanged" not in undo_back.group(1)


def test_an_inline_rename_to_the_name_it_has_goes_back_to_its_list_saying_so(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=SameName()).test_client()
    renamed = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": _token(client), "name": "Alice",
                                                                      "next": "/?sort=name"})
    assert renamed.headers["Location"] == "/?sort=name&unchanged=inf_aaaa000001#inf_aaaa000001"
    assert "already named &#39;Alice&#39;" in client.get(renamed.headers["Location"]).get_data(as_text=True)


def test_clearing_the_name_of_someone_unnamed_asks_identity_and_says_they_have_no_name_already(
        analytics_store: AnalyticsStore) -> None:
    # Before: the page answered it itself, at feed position 0, without asking identity: a name given a moment
    # before on another page (in identity, not yet in analytics) was kept, and the page waited for nothing
    fake = SameName()
    client = create_app(analytics_store, corrections=fake).test_client()
    cleared = client.post("/influencer/inf_cccc000003/rename", data={"csrf_token": _token(client), "name": ""})
    assert cleared.headers["Location"] == "/influencer/inf_cccc000003?unchanged=inf_cccc000003"
    assert fake.calls == [("rename", "inf_cccc000003", "")]
    assert "inf_cccc000003 has no name already: nothing changed." in client.get(
        cleared.headers["Location"]).get_data(as_text=True)


def test_a_rename_that_changed_the_name_says_nothing_of_the_kind(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=FakeCorrections()).test_client()
    renamed = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": _token(client), "name": "Alicia"})
    assert "unchanged" not in renamed.headers["Location"]
    assert 'id="unchanged"' not in client.get("/influencer/inf_aaaa000001?unchanged=x").get_data(as_text=True)


def test_the_note_shows_no_name_to_a_signed_out_visitor(analytics_store: AnalyticsStore) -> None:
    # The sign-in page answers any address for a signed-out visitor, with the page's frame: the note must not
    # tell them the name of any id they put in the address
    client = create_app(analytics_store, {"TOKEN": "s3cret"}).test_client()
    for path in ("/?unchanged=inf_aaaa000001", "/signin?unchanged=inf_aaaa000001"):
        answer = client.get(path).get_data(as_text=True)
        assert "Alice" not in answer and "already named" not in answer, path
    signed_in = client.get("/influencer/inf_aaaa000001?unchanged=inf_aaaa000001",
                           headers={"Authorization": "Bearer s3cret"}).get_data(as_text=True)
    assert "already named &#39;Alice&#39;" in signed_in


def test_a_name_added_on_the_overview_after_a_rename_that_changed_nothing_drops_that_ones_note(
        analytics_store: AnalyticsStore) -> None:
    # The overview's "Add a name" forms send back the address they were on, the earlier note's argument included:
    # the next rename (a real one) came back saying "inf_… is already named" again
    client = create_app(analytics_store, corrections=FakeCorrections()).test_client()
    renamed = client.post("/influencer/inf_cccc000003/rename", data={
        "csrf_token": _token(client), "name": "Cy", "next": "/?sort=name&unchanged=inf_aaaa000001&x=1"})
    assert renamed.headers["Location"] == "/?sort=name&x=1#inf_cccc000003"


def test_a_correction_message_left_in_its_cookie_is_not_shown_on_the_sign_in_page(
        analytics_store: AnalyticsStore) -> None:
    # A message still waiting in its cookie (analytics had not the row yet when the page came back) was shown on
    # the sign-in page once signed out: "Renamed inf_… to …" to whoever uses the browser next
    row = AuditRow("d" * 32, "rename", "page", 1.8e9, before_ids=("inf_aaaa000001",), after_ids=("inf_aaaa000001",),
                   before_name="Alice", after_name="Alicia")
    analytics_store.apply_changes(analytics_store.feed_position() + 1, {}, {}, audit=row)
    client = create_app(analytics_store, {"TOKEN": "s3cret"}).test_client()
    client.set_cookie(DONE_COOKIE, row.audit_id)
    assert "Alicia" not in client.get("/").get_data(as_text=True)
    assert "Alicia" in client.get("/", headers={"Authorization": "Bearer s3cret"}).get_data(as_text=True)


class SameNameAnalyticsBehind(SameName):
    """As SameName, analytics not yet at identity's feed head when the page comes back (another analyst's rename
    to that name a moment before is not applied there yet)."""

    def rename(self, influencer_id: str, name: str) -> Written:
        super().rename(influencer_id, name)
        return Written(0, 7, caught_up=False, unchanged=True)


def test_a_rename_to_the_name_it_has_while_analytics_catches_up_does_not_name_analytics_older_name(
        analytics_store: AnalyticsStore) -> None:
    # Identity has "Bob" (given a moment before on another page), analytics still "Alice": before, the page said
    # "inf_… is already named 'Alice': nothing changed", to someone who had typed Bob
    client = create_app(analytics_store, corrections=SameNameAnalyticsBehind()).test_client()
    renamed = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": _token(client), "name": "Bob"})
    assert "catching_up=1" in renamed.headers["Location"]
    shown = client.get(renamed.headers["Location"]).get_data(as_text=True)
    assert "already named &#39;Alice&#39;" not in shown
    assert "inf_aaaa000001 has the name given already: nothing changed." in shown
