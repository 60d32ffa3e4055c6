"""Hiding an influencer who is hidden already (or showing one who is not hidden) changes nothing: the page says
so, as a rename to the name it has says "already named"."""

from __future__ import annotations

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.identity_calls import GrpcCorrections
from services.common.clients import GrpcIdentity, Written
from tests.analytics.test_analytics_web import FakeCorrections
from tests.analytics.test_unchanged_rename import _token


class HiddenAlready(FakeCorrections):
    """Identity answering every hide and unhide as changing nothing (no audit entry)."""

    def hide(self, influencer_id: str, hidden: bool) -> Written:
        self.calls.append(("hide", influencer_id, hidden))
        return Written(0, 7, unchanged=True)


def test_hiding_someone_hidden_already_comes_back_saying_already_hidden(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=HiddenAlready()).test_client()
    hidden = client.post("/influencer/inf_aaaa000001/hide", data={"csrf_token": _token(client), "hidden": "1"})
    assert hidden.status_code == 303
    shown = client.get(hidden.headers["Location"]).get_data(as_text=True)
    # Was: the overview again with no word, as if the hide had done something
    assert "Alice (inf_aaaa000001) is already hidden (not an influencer): nothing changed." in shown


def test_showing_someone_not_hidden_says_they_are_not_hidden(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=HiddenAlready()).test_client()
    shown = client.post("/influencer/inf_aaaa000001/hide", data={"csrf_token": _token(client), "hidden": "0"})
    assert "Alice (inf_aaaa000001) is not hidden: nothing changed." in client.get(
        shown.headers["Location"]).get_data(as_text=True)


def test_a_hide_that_hid_says_nothing_of_the_kind(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=FakeCorrections()).test_client()
    hidden = client.post("/influencer/inf_aaaa000001/hide", data={"csrf_token": _token(client), "hidden": "1"})
    assert "unchanged" not in hidden.headers["Location"]
    assert "already hidden" not in client.get(hidden.headers["Location"]).get_data(as_text=True)


class _HideStub:
    """Identity's stub answering HideInfluencer with no audit entry (it wrote nothing), or with one."""

    def __init__(self, audit_id: str) -> None:
        self.audit_id = audit_id

    def HideInfluencer(self, request, timeout: float):  # noqa: ANN001, ANN201, N802
        changes = identity_pb2.Changes(feed_position=3, audit=identity_pb2.AuditEntry(audit_id=self.audit_id))
        return identity_pb2.HideInfluencerResponse(changes=changes)


def test_identity_writing_no_audit_entry_for_a_hide_is_a_hide_that_changed_nothing() -> None:
    unchanged = GrpcCorrections(GrpcIdentity(_HideStub(""), timeout_s=5), lambda position: True)  # type: ignore[arg-type]
    assert unchanged.hide("inf_aaaa000001", True).unchanged
    changed = GrpcCorrections(GrpcIdentity(_HideStub("a" * 32), timeout_s=5), lambda position: True)  # type: ignore[arg-type]
    assert not changed.hide("inf_aaaa000001", True).unchanged
