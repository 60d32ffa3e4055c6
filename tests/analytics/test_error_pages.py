"""The page's own error pages answer whatever failed: a styled page of the site, never Werkzeug's bare one."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import grpc
import pytest

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections
from tests.support.rpc_errors import FakeRpcError


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/", 500, "Something went wrong on our side"),
    ("/influencer/inf_aaaa000001", 500, "Something went wrong on our side"),
    ("/no/such/page", 404, "There is no such page"),
])
def test_with_the_store_down_just_after_a_correction_the_error_page_is_still_the_sites(
        tmp_path: Path, path: str, status: int, says: str) -> None:
    """A correction leaves a cookie for 120 s that the next page reads its message by, from the store: when the
    store was down (a database outage), the error page read it too, failed again, and Werkzeug's bare "Internal
    Server Error" was the answer. An error page now reads nothing of a correction (the message waits for the
    next page)."""
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    client = create_app(store).test_client()
    assert client.get("/").status_code == 200
    store.close()  # the store's adapter now raises on every read, as on an outage
    client.set_cookie(DONE_COOKIE, "a" * 32)
    answer = client.get(path)
    text = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert says in text and 'class="topbar"' in text, text[:300]
    assert DONE_COOKIE not in answer.headers.get("Set-Cookie", ""), "the message is kept for the next page"


@pytest.mark.parametrize("what", ["30 MB of photos", "2,000 files", "a name of 1 MB"])
def test_a_form_over_the_pages_limits_is_a_413_naming_them(analytics_empty_store: AnalyticsStore, what: str) -> None:
    """Werkzeug's "The data value transmitted exceeds the capacity limit." named no limit: the analyst could not
    tell what to send instead (over 25 MB in all, over 1,000 fields, a text field over 500 kB)."""
    import re
    from io import BytesIO

    client = create_app(analytics_empty_store).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True))

    def form() -> dict:
        sent: dict = {"csrf_token": token.group(1) if token else "", "name": "Ann"}
        if what == "30 MB of photos":
            sent["photos"] = [(BytesIO(b"\xff\xd8\xff" + bytes(10 * 2**20)), f"{k}.jpg") for k in range(3)]
        elif what == "2,000 files":
            sent["photos"] = [(BytesIO(b"\xff\xd8\xff"), f"{k}.jpg") for k in range(2000)]
        else:
            sent["name"] = "A" * 2**20
        return sent

    for path in ("/enrol", "/api/review/answer.json"):
        answer = client.post(path, data=form(), content_type="multipart/form-data")
        message = answer.get_json()["error"] if answer.is_json else answer.get_data(as_text=True)
        assert answer.status_code == 413, (path, answer.status)
        limit = "25 MB in all" if path == "/enrol" else "500 kB in all"  # photos go to Enrol alone (body_limits)
        assert limit in message and "1,000 fields" in message, message[-1500:]


def test_a_host_the_page_does_not_answer_gets_the_sites_421_page_and_no_session(
        analytics_empty_store: AnalyticsStore) -> None:
    """Was one line of text/plain: an operator who put the page behind a name not yet in INFLUENCERS_ALLOWED_HOSTS
    saw a bare line where every other refusal is a page of the site (and /api/ keeps its JSON)."""
    client = create_app(analytics_empty_store, {"TOKEN": "s3cret"}).test_client()
    answer = client.get("/", headers={"Host": "report.example.com"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 421 and answer.mimetype == "text/html"
    assert 'class="topbar"' in text and "INFLUENCERS_ALLOWED_HOSTS" in text
    assert "Set-Cookie" not in answer.headers and "csrf" not in text.lower()
    api = client.get("/api/videos.json", headers={"Host": "report.example.com"})
    assert api.status_code == 421 and "INFLUENCERS_ALLOWED_HOSTS" in api.get_json()["error"]


class Refusing(FakeCorrections):
    def __init__(self, code: grpc.StatusCode, words: str) -> None:
        super().__init__()
        self.code, self.words = code, words

    def hide(self, influencer_id: str, hidden: bool) -> Written:
        raise FakeRpcError(self.code, self.words)


@pytest.mark.parametrize(("code", "words"), [
    (grpc.StatusCode.RESOURCE_EXHAUSTED,
     "disk full: HideInfluencer could not write (No space left on device); free some space and run again"),
    (grpc.StatusCode.DATA_LOSS, "face store /data/identity/faces cannot be read (out of bounds); restore it"),
], ids=["full-disk", "damaged-store"])
def test_a_correction_identity_refuses_on_a_full_disk_or_a_damaged_store_is_a_503_saying_so_not_a_bad_gateway(
        analytics_store: AnalyticsStore, code: grpc.StatusCode, words: str) -> None:
    client = create_app(analytics_store, corrections=Refusing(code, words)).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    answer = client.post("/influencer/inf_aaaa000001/hide", data={"csrf_token": token.group(1), "hidden": "1"})
    assert answer.status_code == 503, answer.status
    assert words in unescape(answer.get_data(as_text=True))


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("path", ["/review", "/api/review.json"])
def test_with_identity_stopped_the_review_queue_says_identity_is_not_answering_not_grpcs_words(
        analytics_store: AnalyticsStore, path: str) -> None:
    """Was a 503 reading only gRPC's "connections to all backends failing; last error: UNKNOWN: ipv4:...:
    Failed to connect to remote host: Connection refused": an analyst could not tell which part was down or
    that the rest of the report still worked. A real channel to a port nobody listens on, as a stopped identity."""
    from influencers.v1 import identity_pb2_grpc
    from services.analytics.web.identity_calls import GrpcCorrections
    from services.common.clients import GrpcIdentity

    channel = grpc.insecure_channel(f"127.0.0.1:{_closed_port()}")
    corrections = GrpcCorrections(GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(channel), timeout_s=10),
                                  lambda position: True)
    client = create_app(analytics_store, corrections=corrections).test_client()
    answer = client.get(path)
    text = answer.get_json()["error"] if answer.is_json else unescape(answer.get_data(as_text=True))
    channel.close()
    assert answer.status_code == 503, answer.status
    assert "the identity service is not answering (is it running?)" in text, text[-1500:]
    assert "the other pages work without it" in text


class DatabaseDown(FakeCorrections):
    def review_queue(self, limit: int = 0, include_unlikely: bool = False):  # noqa: ANN201
        raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, "ListReviewItems: the database is unreachable")


def test_identitys_own_unavailable_keeps_its_words(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=DatabaseDown()).test_client()
    answer = client.get("/api/review.json")
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "ListReviewItems: the database is unreachable"
