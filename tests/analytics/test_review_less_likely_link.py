"""The queue's "Hide less likely" is offered only while pairs under the floor are listed: after the last of them
was answered (the page reloads with ?unlikely=1), it stayed, a link hiding nothing."""

from __future__ import annotations

from test_analytics_web import FakeCorrections

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app


class Cleared(FakeCorrections):
    """A queue answered to the end: nothing likely, nothing under the floor."""

    def review_queue(self, limit: int = 0, include_unlikely: bool = False) -> identity_pb2.ListReviewItemsResponse:
        return identity_pb2.ListReviewItemsResponse(items=[], likely=0, unlikely=0, floor=0.5)


def test_a_cleared_queue_offers_no_hide_less_likely(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=Cleared()).test_client()
    for path in ("/review?unlikely=1", "/review"):
        page = client.get(path).get_data(as_text=True)
        assert "Nothing to review" in page and "less likely" not in page.lower(), path


def test_a_queue_with_pairs_under_the_floor_shown_still_offers_to_hide_them(analytics_store: AnalyticsStore) -> None:
    page = create_app(analytics_store, corrections=FakeCorrections()).test_client().get("/review?unlikely=1")
    assert 'id="hide-unlikely">Hide less likely</a>' in page.get_data(as_text=True)
