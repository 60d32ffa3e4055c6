"""The enrol form says which photos had no face (they are not used) instead of dropping them in silence, and
says who was enrolled only from the enrolment itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import requests

from influencers.v1 import identity_pb2
from services.analytics.audit import AuditRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections, csrf_of, serving


class FacelessSecondPhoto(FakeCorrections):
    """Identity finding a face in every photo but the second."""

    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]:
        written = self._call("enrol", name, len(photos))
        return identity_pb2.EnrolInfluencerResponse(
            influencer=identity_pb2.Influencer(influencer_id="inf_aaaa000001"), faces_enrolled=len(photos) - 1,
            photos_without_face=[1]), written


def test_photos_without_a_face_are_named_on_the_page(analytics_store: AnalyticsStore,
                                                     analytics_jpeg: Callable[[int], bytes]) -> None:
    with serving(create_app(analytics_store, corrections=FacelessSecondPhoto())) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
        files = [("photos", (f"{n}.jpg", analytics_jpeg(k), "image/jpeg"))
                 for k, n in enumerate(("front", "<back>", "side"))]
        page = browser.post(url + "/enrol", data={"csrf_token": token, "name": "Alice"}, files=files, timeout=5,
                            allow_redirects=False)
        assert page.status_code == 200
        text = " ".join(page.text.split())
        assert "No face was found in 1 of the photos, which were not used: <code>&lt;back&gt;.jpg</code>" in text
        assert "<bdi>Alice</bdi> is enrolled from the other 2" in text and 'href="/influencer/inf_aaaa000001"' in text


def test_the_enrolled_message_comes_from_the_enrolment_never_from_the_address(
        analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=FakeCorrections()).test_client()
    spoof = client.get("/enrol?enrolled=Your+session+expired:+call+555-0100").get_data(as_text=True)
    assert "is enrolled" not in spoof and "555-0100" not in spoof
    row = AuditRow("e" * 32, "enrol", "page", 1.8e9, after_ids=("inf_ffff000006",), after_name="Zed")
    analytics_store.apply_changes(analytics_store.feed_position() + 1, {}, {}, audit=row)
    client.set_cookie(DONE_COOKIE, row.audit_id)
    assert "Zed is enrolled. No video processed so far shows them" in " ".join(
        client.get("/enrol").get_data(as_text=True).split())
