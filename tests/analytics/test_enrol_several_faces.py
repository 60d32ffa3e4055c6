"""An enrol photo with several faces: identity enrols the largest, and the enrol form says so of that photo
instead of enrolling it in silence (the largest face may not be the person named)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import requests

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections, csrf_of, serving


class CrowdedSecondPhoto(FakeCorrections):
    """Identity finding one face in the first photo and three in the second."""

    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]:
        written = self._call("enrol", name, len(photos))
        return identity_pb2.EnrolInfluencerResponse(
            influencer=identity_pb2.Influencer(influencer_id="inf_aaaa000001"), faces_enrolled=len(photos),
            faces_per_photo=[1, 3]), written


def _enrol(url: str, jpeg: Callable[[int], bytes]) -> requests.Response:
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
    files = [("photos", (f"{n}.jpg", jpeg(k), "image/jpeg")) for k, n in enumerate(("alone", "<team>"))]
    return browser.post(url + "/enrol", data={"csrf_token": token, "name": "Alice"}, files=files, timeout=5,
                        allow_redirects=False)


def test_a_photo_with_several_faces_is_named_with_its_count_and_that_the_largest_was_enrolled(
        analytics_store: AnalyticsStore, analytics_jpeg: Callable[[int], bytes]) -> None:
    with serving(create_app(analytics_store, corrections=CrowdedSecondPhoto())) as url:
        page = _enrol(url, analytics_jpeg)
    # Was: a 303 to Alice's page, saying nothing of the two other faces in the team photo
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "The photo <code>&lt;team&gt;.jpg</code> had 3 faces; enrolled the largest." in text
    assert "alone.jpg" not in text and 'href="/influencer/inf_aaaa000001"' in text


def test_photos_of_one_face_each_go_on_to_the_influencer_as_before(
        analytics_store: AnalyticsStore, analytics_jpeg: Callable[[int], bytes]) -> None:
    with serving(create_app(analytics_store, corrections=FakeCorrections())) as url:
        page = _enrol(url, analytics_jpeg)
    assert page.status_code == 303 and "several-faces" not in page.text
