"""A long "same person?" queue opens at once: its faces load as they scroll into view. Was: every face of a
page of 100 pairs (up to 400 images) fetched on opening, some 3 s on the dev corpus's "Show less likely"."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import FakeCorrections, serving

PAIRS = 60


class LongQueue(FakeCorrections):
    def review_queue(self, limit: int = 0, include_unlikely: bool = False) -> identity_pb2.ListReviewItemsResponse:
        items = [identity_pb2.ReviewItem(influencer_a=f"inf_{2 * k:010x}", influencer_b=f"inf_{2 * k + 1:010x}",
                                         distance=0.6, probability=0.9, video_id_a=f"{2 * k:016x}",
                                         video_id_b=f"{2 * k + 1:016x}") for k in range(PAIRS)]
        return identity_pb2.ListReviewItemsResponse(items=items, likely=PAIRS, floor=0.5)


def test_a_long_review_queue_fetches_the_faces_in_view_not_every_face_of_the_page(tmp_path: Path, page: Page) -> None:
    store = AnalyticsStore(tmp_path / "a.sqlite")
    try:
        with serving(create_app(store, corrections=LongQueue())) as url:
            faces: list[str] = []
            page.on("request", lambda r: faces.append(r.url) if "face" in r.url else None)
            page.goto(url + "/review", wait_until="networkidle")
            assert page.locator("li.review-item").count() == PAIRS
            assert 0 < len(faces) <= 2 * PAIRS, f"{len(faces)} faces fetched on opening a queue of {4 * PAIRS}"
            last = f"inf_{2 * PAIRS - 1:010x}"
            with page.expect_request(lambda r: last in r.url, timeout=10_000):  # the last pair's faces
                page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    finally:
        store.close()
