"""A photo identity refuses is named on the enrol form by its file name, as the analyst chose it: identity counts
photos from 0 in the order sent, which the analyst never sees."""

from __future__ import annotations

import re
from collections.abc import Sequence
from io import BytesIO

import grpc

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections, FakeRpcError

JPEG = b"\xff\xd8\xff\xe0" + bytes(32)


class RefusesTheSecondPhoto(FakeCorrections):
    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]:
        raise FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "photo 1: a JPEG of more than 100 scans (encoders "
                                                             "write 1 to about a dozen): each is ..., refused")


def test_a_photo_identity_refuses_is_named_by_its_file_name_not_its_place(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=RefusesTheSecondPhoto()).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    photos = [(BytesIO(JPEG), name) for name in ("front.jpg", "IMG_2041.jpg", "side.jpg")]
    answer = client.post("/enrol", data={"csrf_token": token.group(1), "name": "Ann", "photos": photos},
                         content_type="multipart/form-data")
    text = " ".join(answer.get_data(as_text=True).split())
    assert answer.status_code == 400
    assert "Not enrolled: &#39;IMG_2041.jpg&#39;: a JPEG of more than 100 scans" in text, text[-2500:]
    assert "photo 1" not in text
