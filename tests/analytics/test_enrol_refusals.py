"""A photo identity refuses is named on the enrol form by its file name, as the analyst chose it: identity counts
photos from 0 in the order sent, which the analyst never sees."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import unescape
from io import BytesIO

import grpc
import pytest
from werkzeug.test import TestResponse

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections
from tests.support.rpc_errors import FakeRpcError

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


def test_a_refused_enrolment_says_which_photos_were_sent_and_that_they_must_be_picked_again(
        analytics_store: AnalyticsStore) -> None:
    """The form came back with the name alone and said nothing of the photos, as if they were still chosen: the
    page keeps none (a browser never fills a file box), so it names them and says to pick them again."""
    client = create_app(analytics_store, corrections=RefusesTheSecondPhoto()).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    for photos, said in (([(BytesIO(JPEG), n) for n in ("front.jpg", "IMG_2041.jpg")],
                          "The 2 photos sent (front.jpg, IMG_2041.jpg) were not kept: pick them again below."),
                         ([(BytesIO(b"GIF89a"), "cat.gif")],
                          "The photo sent (cat.gif) was not kept: pick it again below.")):
        answer = client.post("/enrol", data={"csrf_token": token.group(1), "name": "Ann", "photos": photos},
                             content_type="multipart/form-data")
        page = answer.get_data(as_text=True)
        shown = " ".join(unescape(re.sub(r"<[^>]+>", "", page)).split())
        assert answer.status_code == 400 and said in shown, shown[-1500:]
        assert 'value="Ann"' in page and 'multiple required autofocus>' in page
    typed_only = client.post("/enrol", data={"csrf_token": token.group(1), "name": "Ann"},
                             content_type="multipart/form-data").get_data(as_text=True)
    assert "choose at least one photo" in typed_only and "pick-again" not in typed_only


def enrolled(store: AnalyticsStore, corrections: FakeCorrections, name: str, photo: bytes,
             filename: str) -> tuple[TestResponse, str]:
    """The enrol form sent as a browser sends it (its CSRF token read from the page): the answer, and its text
    with the HTML's entities and runs of blanks undone."""
    client = create_app(store, corrections=corrections).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    answer = client.post("/enrol", data={"csrf_token": token.group(1), "name": name,
                                         "photos": [(BytesIO(photo), filename)]},
                         content_type="multipart/form-data")
    return answer, unescape(" ".join(answer.get_data(as_text=True).split()))


@pytest.mark.parametrize(("data", "kind"), [
    (b"", "the file is empty"),
    (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "an HEIC photo, as iPhones save them: export it as JPEG"),
    (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1", "an AVIF image"),
    (b"RIFF\x10\0\0\0WEBPVP8 ", "a WebP image"),
    (b"GIF89a\x01\0\x01\0", "a GIF"),
    (b"II*\0\x08\0\0\0", "a TIFF image"),
    (b"%PDF-1.7\n", "a PDF"),
])
def test_a_photo_of_another_kind_is_named_for_what_it_is(analytics_store: AnalyticsStore, data: bytes,
                                                          kind: str) -> None:
    """Was "'IMG_2041.HEIC' is not a JPEG or PNG image" alone, for an empty file too."""
    answer, text = enrolled(analytics_store, FakeCorrections(), "Ann", data, "IMG_2041.HEIC")
    assert answer.status_code == 400
    assert f"'IMG_2041.HEIC' is not a JPEG or PNG image ({kind})" in text, text[-2000:]


class MatchesSomeoneNamedOtherwise(FakeCorrections):
    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]:
        raise FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "the photos match inf_db32d7c506, already named "
                                                                "'Madonna': enrol them as 'Madonna', or rename "
                                                                "inf_db32d7c506 first")


def test_photos_matching_someone_named_otherwise_are_refused_on_the_enrol_form_keeping_the_name(
        analytics_store: AnalyticsStore) -> None:
    # Was: the bare "Conflict (409)" error page, the form and the name typed gone
    answer, text = enrolled(analytics_store, MatchesSomeoneNamedOtherwise(), "Tony Blair", JPEG, "madonna.jpg")
    assert answer.status_code == 409
    assert "Not enrolled: the photos match inf_db32d7c506, already named 'Madonna'" in text, text[-2500:]
    assert 'name="name" maxlength="200" required value="Tony Blair"' in text
