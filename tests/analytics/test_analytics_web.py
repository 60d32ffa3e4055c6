"""The report page served for real (waitress on a free loopback port), over HTTP and in headless Chromium:
reads, sign-in, CSRF, and the correction forms over a fake identity (the real one: tests/integration/
test_browser_corrections.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import requests
from flask import Flask
from playwright.sync_api import Page

from influencers.stack import WebServer
from influencers.v1 import identity_pb2
from services.analytics.audit import AuditRow
from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label
from services.analytics.web import create_app
from services.analytics.web.audit_views import DISMISSED_COOKIE
from services.analytics.web.auth import SESSION_COOKIE, safe_next
from services.common.clients import Written
from tests.support.rpc_errors import FakeRpcError


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    server = WebServer(app, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def base_url(analytics_module_store: AnalyticsStore) -> Iterator[str]:
    with serving(create_app(analytics_module_store)) as url:
        yield url


def test_every_page_and_download_answers(base_url: str) -> None:
    first = requests.get(base_url + "/api/appearances.json", timeout=5).json()[0]
    assert first["video_url"] == requests.get(base_url + "/api/videos.json", timeout=5).json()[0]["video_url"]
    for path in ("/", "/videos", "/chart.png", "/predict?ids=inf_aaaa000001&ids=inf_dddd000004",
                 "/influencer/inf_aaaa000001", f"/video/{0:016x}", "/faces/inf_aaaa000001.jpg",
                 f"/appearance-face/{0:016x}/{first['influencer_id']}.jpg",
                 "/download/influencers.csv", "/download/videos.csv", "/download/appearances.csv",
                 "/api/influencers.json", "/api/videos.json", "/api/appearances.json"):
        assert requests.get(base_url + path, timeout=10).status_code == 200, path


def test_unknown_pages_influencers_and_videos_get_the_404_page(base_url: str) -> None:
    for path in ("/nope", "/influencer/inf_nobody", "/video/ffffffffffffffff", "/faces/inf_nobody.jpg",
                 "/download/secrets.csv"):
        reply = requests.get(base_url + path, timeout=5)
        assert reply.status_code == 404, path
    assert "Not found" in requests.get(base_url + "/nope", timeout=5).text


def test_the_json_api_and_csv_download_agree(base_url: str) -> None:
    rows = requests.get(base_url + "/api/influencers.json", timeout=5).json()
    csv = requests.get(base_url + "/download/influencers.csv", timeout=5).text.splitlines()
    assert len(rows) == len(csv) - 1 == 4
    assert csv[0].startswith("influencer_id,videos,avg_performance,median_performance,std_performance,")
    videos = requests.get(base_url + "/api/videos.json", timeout=5).json()
    assert {v["status"] for v in videos} == {"done", "duplicate", "failed"}


def test_the_csv_downloads_are_plain_utf_8_and_their_excel_copies_start_with_a_byte_order_mark(
        base_url: str) -> None:
    for path in ("/download/influencers.csv", "/download/videos.csv", "/audit.csv"):
        plain = requests.get(base_url + path, timeout=5)
        assert not plain.content.startswith(b"\xef\xbb\xbf"), "the documented bytes: a script's csv reads them"
        excel = requests.get(base_url + path + "?excel=1", timeout=5)
        assert excel.content == b"\xef\xbb\xbf" + plain.content, path
        name = path.rsplit("/", 1)[1].removesuffix(".csv")
        assert excel.headers["Content-Disposition"] == f'attachment; filename="{name}-excel.csv"'
    overview = requests.get(base_url + "/", timeout=5).text
    assert 'href="/download/influencers.csv?excel=1"' in overview


def test_the_predict_page_names_the_chosen_influencers_and_flags_unknown_ones(base_url: str) -> None:
    page = requests.get(base_url + "/predict?ids=inf_aaaa000001&ids=inf_ghost", timeout=5).text
    assert "<strong>Alice</strong>" in page, "the name, not the id"
    assert "<code>inf_ghost</code>" in page
    assert '<input type="checkbox" name="ids" value="inf_aaaa000001" checked>' in page, "ticked in the form"


def test_min_videos_filters_the_overview(base_url: str) -> None:
    page = requests.get(base_url + "/?min_videos=1000", timeout=5).text
    assert "No influencer has at least 1000 videos" in page


def test_hostile_names_are_escaped_in_the_html(base_url: str, analytics_script_name: str) -> None:
    page = requests.get(base_url + "/", timeout=5).text
    assert analytics_script_name not in page
    assert "&lt;script&gt;" in page


def test_an_empty_store_shows_a_clear_empty_state(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store)) as url:
        overview = requests.get(url + "/", timeout=5).text
        assert "No videos processed yet" in overview
        # and how to process some (it said only "Once videos are processed": a first `serve` left one guessing)
        assert "<code>influencers ingest manifest.csv</code>" in overview
        assert "No videos processed yet" in requests.get(url + "/videos", timeout=5).text
        assert requests.get(url + "/chart.png", timeout=5).status_code == 200


def csrf_of(html: str) -> str:
    """The CSRF token in a page's first form."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def test_a_token_is_required_on_every_request_when_configured(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        reply = requests.get(url + "/", timeout=5)
        assert reply.status_code == 401 and 'name="token"' in reply.text  # the sign-in form
        assert requests.get(url + "/videos", timeout=5).status_code == 401
        assert requests.get(url + "/?token=s3cret", timeout=5).status_code == 401  # no token in URLs
        assert requests.get(url + "/static/style.css", timeout=5).status_code == 200  # styles the sign-in form
        bearer = {"Authorization": "Bearer s3cret"}
        assert requests.get(url + "/api/videos.json", headers=bearer, timeout=5).status_code == 200
        assert requests.get(url + "/api/videos.json", headers={"Authorization": "Bearer wrong"},
                            timeout=5).status_code == 401


def test_signing_in_once_sets_an_httponly_samesite_strict_cookie_and_no_url_carries_the_token(
        analytics_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_store, {"TOKEN": "s3cret"})) as url:
        browser = requests.Session()
        form = browser.get(url + "/signin?next=/videos", timeout=5).text
        wrong = browser.post(url + "/signin", data={"csrf_token": csrf_of(form), "token": "guess", "next": "/videos"},
                             timeout=5, allow_redirects=False)
        assert wrong.status_code == 401 and "not the token" in wrong.text
        anonymous = browser.cookies[SESSION_COOKIE]
        reply = browser.post(url + "/signin", data={"csrf_token": csrf_of(form), "token": "s3cret", "next": "/videos"},
                             timeout=5, allow_redirects=False)
        assert reply.status_code == 303 and reply.headers["Location"] == "/videos"
        cookie = reply.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain http here
        assert browser.cookies[SESSION_COOKIE] != anonymous  # a new session: a planted cookie is worth nothing
        for path in ("/", "/videos", "/influencer/inf_aaaa000001"):
            page = browser.get(url + path, timeout=5)
            assert page.status_code == 200, path
            assert "token=" not in page.text and "s3cret" not in page.text, path
        out = browser.post(url + "/signout", data={"csrf_token": csrf_of(browser.get(url + "/", timeout=5).text)},
                           timeout=5, allow_redirects=False)
        assert out.status_code == 303
        assert browser.get(url + "/", timeout=5).status_code == 401


def test_the_session_cookie_is_secure_over_https(analytics_empty_store: AnalyticsStore) -> None:
    client = create_app(analytics_empty_store, {"TOKEN": "s3cret"}).test_client()
    reply = client.get("/signin", base_url="https://localhost")
    assert "Secure" in reply.headers["Set-Cookie"] and "HttpOnly" in reply.headers["Set-Cookie"]


def test_a_forged_or_foreign_session_cookie_does_not_sign_in(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        for cookie in ("s.00000000000000000000000000000000.deadbeef", "s..", "x" * 5000, "s.a.b.c"):
            assert requests.get(url + "/", cookies={SESSION_COOKIE: cookie}, timeout=5).status_code == 401, cookie
    with serving(create_app(analytics_empty_store, {"TOKEN": "other"})) as other_url:
        browser = requests.Session()
        form = browser.get(other_url + "/signin", timeout=5).text
        browser.post(other_url + "/signin", data={"csrf_token": csrf_of(form), "token": "other"}, timeout=5)
        signed = browser.cookies[SESSION_COOKIE]
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        assert requests.get(url + "/", cookies={SESSION_COOKIE: signed}, timeout=5).status_code == 401


def test_after_signing_in_only_a_local_path_is_followed() -> None:
    assert safe_next("/influencer/inf_aaaa000001?x=1") == "/influencer/inf_aaaa000001?x=1"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "",
                   None, "/a\r\nSet-Cookie: x=1"):
        assert safe_next(target) == "/", target


def test_a_post_without_a_valid_csrf_token_is_403_in_json_or_html_as_the_route_is(
        analytics_empty_store: AnalyticsStore) -> None:
    fake = FakeCorrections()
    with serving(create_app(analytics_empty_store, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
        page = browser.post(url + "/merge", data={"ids": ["inf_aaaa000001", "inf_bbbb000002"]}, timeout=5)
        assert page.status_code == 403 and page.headers["Content-Type"].startswith("text/html")
        assert "CSRF" in page.text
        wrong = browser.post(url + "/merge", data={"ids": ["inf_aaaa000001", "inf_bbbb000002"], "csrf_token": "0" * 64},
                             timeout=5)
        assert wrong.status_code == 403
        other_browser = requests.post(url + "/merge", data={"ids": ["inf_aaaa000001", "inf_bbbb000002"],
                                                            "csrf_token": token}, timeout=5)
        assert other_browser.status_code == 403  # a token is good only with its own session cookie
        api = browser.post(url + "/api/review/answer.json", timeout=5,
                           json={"influencer_a": "inf_aaaa000001", "influencer_b": "inf_dddd000004", "answer": "skip"})
        assert api.status_code == 403 and api.json() == {"error": "missing or wrong CSRF token (reload the page and "
                                                                  "try again)"}
        assert fake.calls == []
        answered = browser.post(url + "/api/review/answer.json", headers={"X-CSRF-Token": token}, timeout=5,
                                json={"influencer_a": "inf_aaaa000001", "influencer_b": "inf_dddd000004",
                                      "answer": "skip"})
        assert answered.status_code == 200 and answered.json() == {
            "changed_videos": 0, "caught_up": True, "audit_id": "", "undo": False, "undone": False,
            "message": "Your answer “skip” for inf_aaaa000001 and inf_dddd000004 changed nothing: the pair was skipped "
                       "already"}, "no audit id is identity's answer that changed nothing: said so, without Undo"
        fake.calls.clear()
        ok = browser.post(url + "/merge", data={"ids": ["inf_aaaa000001", "inf_bbbb000002"], "csrf_token": token},
                          timeout=5, allow_redirects=False)
        assert ok.status_code == 303 and fake.calls == [("merge", ["inf_aaaa000001", "inf_bbbb000002"])]


def test_writes_are_refused_without_a_token_when_the_page_is_reachable_beyond_loopback(
        analytics_empty_store: AnalyticsStore) -> None:
    # The app is told it is served on every interface; the test itself only talks to 127.0.0.1.
    fake = FakeCorrections()
    with serving(create_app(analytics_empty_store, {"HOST": "0.0.0.0"}, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
        reply = browser.post(url + "/influencer/inf_aaaa000001/hide", data={"csrf_token": token}, timeout=5)
        assert reply.status_code == 403 and "INFLUENCERS_TOKEN" in reply.text
        assert fake.calls == []


def test_pages_cannot_be_framed_by_another_site(base_url: str) -> None:
    reply = requests.get(base_url + "/", timeout=5)
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]


class FakeCorrections:
    """The corrections port in memory: records each call; identity's refusals can be planted."""

    def __init__(self, refuse: grpc.StatusCode | None = None, caught_up: bool = True) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.refuse = refuse
        self.caught_up = caught_up  # False: analytics had not applied the change within the wait
        self.waits: list[bool] = []  # of each answer: whether the page waited for analytics to apply it

    def _call(self, *call: object) -> Written:
        if self.refuse is not None:
            raise FakeRpcError(self.refuse, "influencer inf_aaaa000009 is not known")
        self.calls.append(call)
        return Written(0, len(self.calls), self.caught_up)

    def rename(self, influencer_id: str, name: str) -> Written:
        return self._call("rename", influencer_id, name)

    def merge(self, influencer_ids: Sequence[str]) -> Written:
        return self._call("merge", list(influencer_ids))

    def move(self, video_id: str, influencer_id: str, target_id: str) -> Written:
        return self._call("move", video_id, influencer_id, target_id)

    def hide(self, influencer_id: str, hidden: bool) -> Written:
        return self._call("hide", influencer_id, hidden)

    def delete(self, influencer_id: str) -> Written:
        return self._call("delete", influencer_id)

    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]:
        written = self._call("enrol", name, [len(p) for p in photos])
        found = "inf_aaaa000001" if name == "Alice" else "inf_ffff000006"  # Alice is in videos; others are new
        return identity_pb2.EnrolInfluencerResponse(influencer=identity_pb2.Influencer(influencer_id=found),
                                                    faces_enrolled=len(photos)), written

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]:
        return list(self.review_queue(limit).items)

    def review_queue(self, limit: int = 0, include_unlikely: bool = False) -> identity_pb2.ListReviewItemsResponse:
        """One likely pair, and one under the floor (0.5) listed only when asked for."""
        likely = identity_pb2.ReviewItem(
            influencer_a="inf_aaaa000001", influencer_b="inf_dddd000004", distance=0.64, probability=0.82,
            reason=identity_pb2.REVIEW_REASON_NEAR_THRESHOLD, video_id_a=f"{0:016x}", video_id_b=f"{1:016x}")
        unlikely = identity_pb2.ReviewItem(
            influencer_a="inf_cccc000003", influencer_b="inf_dddd000004", distance=0.71, probability=0.1,
            reason=identity_pb2.REVIEW_REASON_SAME_VIDEO, video_id_a=f"{0:016x}", video_id_b=f"{0:016x}")
        items = [likely, unlikely] if include_unlikely else [likely]
        return identity_pb2.ListReviewItemsResponse(items=items, likely=1, unlikely=1, floor=0.5)

    def answer(self, influencer_a: str, influencer_b: str, answer: str, wait: bool = True) -> Written:
        self.waits.append(wait)
        return self._call("answer", influencer_a, influencer_b, answer)


@pytest.fixture(scope="module")
def corrections_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeCorrections]]:
    """The page over six videos of four influencers, one of them hidden ("Crowd"), writing to a fake."""
    store = AnalyticsStore(tmp_path_factory.mktemp("corrections") / "a.sqlite")
    cast = {"inf_aaaa000001": (0, 1, 2, 3), "inf_cccc000003": (2, 3, 4), "inf_dddd000004": (0, 5),
            "inf_eeee000005": (1,)}
    for k in range(6):
        video_id = f"{k:016x}"
        store.record_video(VideoRow(f"https://cdn.example.com/{k}.mp4", video_id, 1.0 + k / 10, DONE, duration_s=5.0),
                           [AppearanceRow(video_id, i, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")
                            for i, ks in cast.items() if k in ks])
    store.replace_appearances({}, {"inf_aaaa000001": "Alice"}, [Label("inf_eeee000005", "Crowd", hidden=True)])
    fake = FakeCorrections()
    with serving(create_app(store, corrections=fake)) as url:
        yield url, fake
    store.close()


def test_each_correction_form_calls_identity_with_what_was_chosen(
        corrections_page: tuple[str, FakeCorrections], analytics_jpeg) -> None:  # noqa: ANN001
    url, fake = corrections_page
    fake.calls.clear()
    browser = requests.Session()
    page = browser.get(url + "/influencer/inf_aaaa000001", timeout=5).text
    token = csrf_of(page)
    assert 'action="/influencer/inf_aaaa000001/rename"' in page and 'href="/influencer/inf_aaaa000001/delete"' in page
    post = lambda path, **data: browser.post(url + path, data={"csrf_token": token, **data},  # noqa: E731
                                             timeout=5, allow_redirects=False)
    assert post("/influencer/inf_aaaa000001/rename", name="  Alice   B. ").headers["Location"] == \
        "/influencer/inf_aaaa000001"
    assert post("/merge", ids=["inf_cccc000003", "inf_aaaa000001"]).status_code == 303
    assert post("/merge", into="inf_cccc000003", ids=["inf_aaaa000001"]).status_code == 303
    assert post(f"/video/{0:016x}/move", influencer_id="inf_aaaa000001", target="new").status_code == 303
    assert post(f"/video/{0:016x}/move", influencer_id="inf_aaaa000001", target="inf_dddd000004").status_code == 303
    assert post("/influencer/inf_aaaa000001/hide", hidden="1").headers["Location"] == "/"
    assert post("/influencer/inf_eeee000005/hide", hidden="0").status_code == 303
    assert "Delete" in browser.get(url + "/influencer/inf_aaaa000001/delete", timeout=5).text
    assert post("/influencer/inf_aaaa000001/delete").status_code == 400  # the confirm box is not ticked
    assert post("/influencer/inf_aaaa000001/delete", confirm="yes").headers["Location"] == "/"
    assert post("/review/answer", influencer_a="inf_aaaa000001", influencer_b="inf_dddd000004",
                answer="same").headers["Location"] == "/review"
    assert post("/review/answer", influencer_a="inf_aaaa000001", influencer_b="inf_dddd000004", answer="skip",
                next="item-inf_cccc000003-inf_dddd000004", unlikely="1").headers["Location"] == \
        "/review?unlikely=1#item-inf_cccc000003-inf_dddd000004", "back where the page was"
    enrolled = browser.post(url + "/enrol", data={"csrf_token": token, "name": "Alice"}, timeout=5,
                            files=[("photos", ("a.jpg", analytics_jpeg(1), "image/jpeg"))], allow_redirects=False)
    assert enrolled.headers["Location"] == "/influencer/inf_aaaa000001"
    stranger = browser.post(url + "/enrol", data={"csrf_token": token, "name": "Nobody Yet"}, timeout=5,
                            files=[("photos", ("n.png", b"\x89PNG\r\n\x1a\n...", "image/png"))], allow_redirects=False)
    # No page of their own yet: back to the form, which says so from the enrolment's audit row (test_enrol_page)
    assert stranger.status_code == 303 and stranger.headers["Location"] == "/enrol"
    assert fake.calls == [
        ("rename", "inf_aaaa000001", "Alice B."),
        ("merge", sorted(["inf_cccc000003", "inf_aaaa000001"], key=lambda i: -_videos(url, i))),
        ("merge", ["inf_cccc000003", "inf_aaaa000001"]),
        ("move", f"{0:016x}", "inf_aaaa000001", ""),
        ("move", f"{0:016x}", "inf_aaaa000001", "inf_dddd000004"),
        ("hide", "inf_aaaa000001", True),
        ("hide", "inf_eeee000005", False),
        ("delete", "inf_aaaa000001"),
        ("answer", "inf_aaaa000001", "inf_dddd000004", "same"),
        ("answer", "inf_aaaa000001", "inf_dddd000004", "skip"),
        ("enrol", "Alice", [len(analytics_jpeg(1))]),
        ("enrol", "Nobody Yet", [11]),
    ]



def test_every_unnamed_face_has_an_inline_add_a_name_that_returns_to_the_page_it_was_on(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    url, fake = corrections_page
    browser = requests.Session()
    overview = browser.get(url + "/?min_videos=1", timeout=5).text
    token = csrf_of(overview)
    for unnamed in ("inf_cccc000003", "inf_dddd000004"):
        assert f'<form class="add-name" method="post" action="/influencer/{unnamed}/rename">' in overview
    assert 'action="/influencer/inf_aaaa000001/rename"' not in overview, "Alice has a name already"
    assert 'Add a name' in browser.get(url + "/review", timeout=5).text
    assert 'Add a name' in browser.get(url + "/influencer/inf_cccc000003", timeout=5).text
    post = lambda **data: browser.post(url + "/influencer/inf_cccc000003/rename",  # noqa: E731
                                       data={"csrf_token": token, "name": "Cleo", **data}, timeout=5,
                                       allow_redirects=False)
    assert post(next="/?min_videos=1").headers["Location"] == "/?min_videos=1#inf_cccc000003"
    assert post(next="/review").headers["Location"] == "/review#inf_cccc000003"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "review"):
        assert post(next=elsewhere).headers["Location"] == "/influencer/inf_cccc000003", elsewhere


def test_the_overviews_merge_keeps_the_influencer_in_the_most_videos_as_the_cli_does(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    url, fake = corrections_page
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/", timeout=5).text)
    fake.calls.clear()
    browser.post(url + "/merge", data={"csrf_token": token, "ids": ["inf_dddd000004", "inf_cccc000003",
                                                                     "inf_aaaa000001"]}, timeout=5)
    assert fake.calls == [("merge", ["inf_aaaa000001", "inf_dddd000004", "inf_cccc000003"])]


def test_a_correction_analytics_has_not_applied_within_the_wait_says_it_is_still_catching_up(
        analytics_empty_store: AnalyticsStore) -> None:
    fake = FakeCorrections(caught_up=False)
    with serving(create_app(analytics_empty_store, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
        moved = browser.post(url + "/influencer/inf_aaaa000001/hide", data={"csrf_token": token, "hidden": "0"},
                             timeout=5, allow_redirects=False)
        assert moved.status_code == 303 and moved.headers["Location"].endswith("catching_up=1")
        page = browser.get(url + moved.headers["Location"], timeout=5)
        assert "still catching up" in page.text
        answered = browser.post(url + "/api/review/answer.json", headers={"X-CSRF-Token": token}, timeout=5,
                                json={"influencer_a": "inf_aaaa000001", "influencer_b": "inf_dddd000004",
                                      "answer": "skip"})
        assert {"changed_videos": 0, "caught_up": False}.items() <= answered.json().items()

def _videos(url: str, influencer_id: str) -> int:
    rows = requests.get(url + "/api/influencers.json", timeout=5).json()
    return next(r["videos"] for r in rows if r["influencer_id"] == influencer_id)


def test_the_review_queue_is_a_page_and_json(corrections_page: tuple[str, FakeCorrections]) -> None:
    url, _ = corrections_page
    reply = requests.get(url + "/api/review.json", timeout=5)
    items = reply.json()
    assert items[0]["influencer_a"] == "inf_aaaa000001" and items[0]["influencer_b"] == "inf_dddd000004"
    assert items[0]["distance"] == pytest.approx(0.64) and items[0]["reason"] == "near the threshold"
    assert items[0]["probability"] == pytest.approx(0.82) and items[0]["in_words"] == "likely the same — 82%"
    assert len(items) == 1 and reply.headers["X-Review-Likely"] == "1" and reply.headers["X-Review-Unlikely"] == "1"
    page = requests.get(url + "/review", timeout=5).text
    assert 'src="/faces/inf_aaaa000001.jpg"' in page and 'src="/faces/inf_dddd000004.jpg"' in page
    assert page.count('name="answer"') == 3
    # It said "same" merges them "for good", beside the Undo each answer offers: the answer sticks through later
    # batches, and an Undo takes it back.
    assert "for good" not in page and "in later batches too (each says what it did and offers\n  Undo)" in page


def test_the_queue_shows_how_many_are_left_and_keeps_the_less_likely_behind_a_link(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    url, _ = corrections_page
    page = requests.get(url + "/review", timeout=5).text
    assert '<span id="review-left">1</span> left to answer' in page
    assert '<span id="review-unlikely">1</span>\n  less likely (under 50%)' in page
    assert "likely the same — 82%" in page and "inf_cccc000003" not in page
    assert 'href="/review?unlikely=1" id="show-unlikely">Show less likely</a>' in page
    everything = requests.get(url + "/review?unlikely=1", timeout=5).text
    assert everything.index("likely the same — 82%") < everything.index("Less likely") < \
        everything.index("unlikely — 10%")
    assert "one video, different shots" in everything


def test_none_of_these_are_the_same_answers_every_pair_of_the_page_different_in_one_post(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    url, fake = corrections_page
    browser = requests.Session()
    page = browser.get(url + "/review?unlikely=1", timeout=5).text
    form = page[page.index('id="dismiss-page"'):]
    pairs = re.findall(r'name="pair" value="([^"]+)"', form)
    assert pairs == ["inf_aaaa000001 inf_dddd000004", "inf_cccc000003 inf_dddd000004"]
    fake.calls.clear()
    done = browser.post(url + "/review/dismiss", data={"csrf_token": csrf_of(page), "pair": pairs, "unlikely": "1"},
                        timeout=5, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/review?unlikely=1"
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "different"),
                          ("answer", "inf_cccc000003", "inf_dddd000004", "different")]
    refused = browser.post(url + "/review/dismiss", data={"csrf_token": csrf_of(page), "pair": ["inf_aaaa000001"]},
                           timeout=5, allow_redirects=False)
    assert refused.status_code == 400 and "is not two influencer ids" in refused.text
    assert browser.post(url + "/review/dismiss", data={"pair": pairs}, timeout=5).status_code in (400, 403)


def test_a_forged_dismissed_count_never_fails_the_queue(corrections_page: tuple[str, FakeCorrections]) -> None:
    # str.isdigit() is true of superscripts and circled digits, which int() refuses: the page answered 500.
    url, _ = corrections_page
    for forged in ("\u00b2", "\u2082", "\u2460", "-3", "99999", "1e3", "\u0663", "9999", "2"):
        reply = requests.get(url + "/review", params={"dismissed": forged}, timeout=5)
        assert reply.status_code == 200, forged
        assert 'id="dismissed"' not in reply.text, forged


def test_a_rename_from_further_down_an_influencers_videos_comes_back_to_the_same_place(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    # Before, the rename's redirect dropped ?from=: the analyst on videos 3-4 was sent back to the first ones.
    url, _ = corrections_page
    browser = requests.Session()
    page = browser.get(url + "/influencer/inf_aaaa000001?from=2", timeout=5).text
    form = page[page.index('id="rename"'):]
    assert '<input type="hidden" name="from" value="2">' in form[:form.index("</form>")]
    post = lambda **data: browser.post(url + "/influencer/inf_aaaa000001/rename",  # noqa: E731
                                       data={"csrf_token": csrf_of(page), **data}, timeout=5, allow_redirects=False)
    assert post(name="Alice", **{"from": "2"}).headers["Location"] == "/influencer/inf_aaaa000001?from=2"
    for forged in ("0", "-2", "\u00b2", "2x", "1" * 12, "//evil.example", ""):
        assert post(name="Alice", **{"from": forged}).headers["Location"] == "/influencer/inf_aaaa000001", forged
    refused = post(name="A" * 300, **{"from": "2"})
    assert refused.status_code == 400 and 'href="/influencer/inf_aaaa000001?from=2"' in refused.text
    assert '<input type="hidden" name="from" value="2">' in refused.text


class AuditedAnswers(FakeCorrections):
    """Identity answering review items, each answer's audit row applied to analytics as its feed does."""

    def __init__(self, store: AnalyticsStore) -> None:
        super().__init__()
        self.store = store

    def answer(self, influencer_a: str, influencer_b: str, answer: str, wait: bool = True) -> Written:
        written = super().answer(influencer_a, influencer_b, answer, wait)
        row = AuditRow(f"{written.position:032x}", f"review {answer}", "page", 1.8e9,
                       before_ids=(influencer_a, influencer_b), after_ids=(influencer_a, influencer_b))
        self.store.apply_changes(self.store.feed_position() + 1, {}, {}, audit=row)
        return Written(0, written.position, True, row.audit_id)


def test_the_count_a_dismissal_shows_is_read_from_its_audit_rows_never_from_the_address(
        analytics_store: AnalyticsStore) -> None:
    # Before, the queue said "Kept 9999 pairs apart" for /review?dismissed=9999, a link anyone can send.
    with serving(create_app(analytics_store, corrections=AuditedAnswers(analytics_store))) as url:
        forged = requests.get(url + "/review", params={"dismissed": "9999"}, timeout=5).text
        assert 'id="dismissed"' not in forged
        planted = requests.Session()
        planted.cookies.set(DISMISSED_COOKIE, f"{7:032x}.{8:032x}")  # no such corrections
        assert 'id="dismissed"' not in planted.get(url + "/review", timeout=5).text
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/review", timeout=5).text)
        done = browser.post(url + "/review/dismiss", timeout=5, allow_redirects=False, data={
            "csrf_token": token, "pair": ["inf_aaaa000001 inf_dddd000004", "inf_cccc000003 inf_dddd000004"]})
        assert done.status_code == 303 and "dismissed" not in done.headers["Location"]
        said = browser.get(url + done.headers["Location"], timeout=5).text
        assert "Kept 2 pairs apart" in said and 'href="/audit"' in said[said.index('id="dismissed"'):]
        assert 'id="dismissed"' not in browser.get(url + "/review", timeout=5).text, "said once"


def test_dismissing_a_page_writes_nothing_when_a_pair_is_one_influencer_twice(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    # Found by posting hostile pairs: the good pairs before it were written, then the page answered 400.
    url, fake = corrections_page
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/review", timeout=5).text)
    fake.calls.clear()
    refused = browser.post(url + "/review/dismiss", timeout=5, allow_redirects=False, data={
        "csrf_token": token, "pair": ["inf_aaaa000001 inf_dddd000004", "inf_cccc000003 inf_cccc000003"]})
    assert refused.status_code == 400 and "twice" in refused.text
    assert fake.calls == []


def test_a_pair_listed_both_ways_is_dismissed_once(corrections_page: tuple[str, FakeCorrections]) -> None:
    url, fake = corrections_page
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/review", timeout=5).text)
    fake.calls.clear()
    done = browser.post(url + "/review/dismiss", timeout=5, allow_redirects=False, data={
        "csrf_token": token, "pair": ["inf_aaaa000001 inf_dddd000004", "inf_dddd000004  inf_aaaa000001",
                                      "inf_cccc000003 inf_dddd000004"]})
    assert done.status_code == 303 and done.headers["Location"] == "/review"
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "different"),
                          ("answer", "inf_cccc000003", "inf_dddd000004", "different")]


def test_a_dismissal_refused_half_way_says_how_many_pairs_it_kept_apart_before(
        corrections_page: tuple[str, FakeCorrections], monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by merging one of the page's people away before pressing "None of these are the same": the pairs
    # before it were kept apart (and audited), then identity refused the stale one, and the page said only
    # "influencer ... is not known", as if nothing had been done.
    url, fake = corrections_page
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/review", timeout=5).text)
    fake.calls.clear()
    answered = fake.answer

    def stale_second(a: str, b: str, reply: str, wait: bool = True) -> Written:
        if fake.calls:
            raise FakeRpcError(grpc.StatusCode.NOT_FOUND, "no influencer 'inf_cccc000003'")
        return answered(a, b, reply, wait)
    monkeypatch.setattr(fake, "answer", stale_second)
    refused = browser.post(url + "/review/dismiss", timeout=5, allow_redirects=False, data={
        "csrf_token": token, "pair": ["inf_aaaa000001 inf_dddd000004", "inf_cccc000003 inf_dddd000004"]})
    assert refused.status_code == 404 and "no influencer" in refused.text
    assert "Kept 1 pair apart before" in refused.text and fake.calls == [
        ("answer", "inf_aaaa000001", "inf_dddd000004", "different")]


def test_hidden_influencers_are_listed_apart_with_a_way_back(corrections_page: tuple[str, FakeCorrections]) -> None:
    url, _ = corrections_page
    page = requests.get(url + "/", timeout=5).text
    table, hidden = page[:page.index('id="hidden"')], page[page.index('id="hidden"'):]
    assert "Crowd" in hidden and 'action="/influencer/inf_eeee000005/hide"' in hidden
    assert "inf_eeee000005" not in table
    assert "inf_eeee000005" not in {r["influencer_id"] for r in requests.get(url + "/api/influencers.json",
                                                                           timeout=5).json()}
    own = requests.get(url + "/influencer/inf_eeee000005", timeout=5).text
    assert "Unhide" in own and 'name="hidden" value="0"' in own


@pytest.mark.parametrize(("path", "data", "status"), [
    ("/merge", {"ids": ["inf_aaaa000001"]}, 400),
    ("/merge", {"ids": ["inf_aaaa000001", "<script>"]}, 400),
    ("/video/00000000000000aa/move", {"influencer_id": "inf_aaaa000001", "target": "inf_aaaa000001"}, 400),
    ("/video/nothex/move", {"influencer_id": "inf_aaaa000001"}, 404),
    ("/influencer/inf_x/rename", {"name": "x"}, 404),
    ("/influencer/inf_aaaa000001/rename", {"name": "x" * 201}, 400),
    ("/review/answer", {"influencer_a": "inf_aaaa000001", "influencer_b": "inf_dddd000004", "answer": "maybe"}, 400),
    ("/enrol", {"name": "Alice"}, 400),
])
def test_bad_correction_input_is_refused_before_identity_is_called(
        corrections_page: tuple[str, FakeCorrections], path: str, data: dict[str, object], status: int) -> None:
    url, fake = corrections_page
    fake.calls.clear()
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
    reply = browser.post(url + path, data={"csrf_token": token, **data}, timeout=5, allow_redirects=False)
    assert reply.status_code == status and fake.calls == []
    assert "'<script>'" not in reply.text  # echoed escaped, if at all


def test_an_upload_that_is_not_an_image_or_too_large_is_refused(corrections_page: tuple[str, FakeCorrections]) -> None:
    url, fake = corrections_page
    fake.calls.clear()
    browser = requests.Session()
    token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
    text = browser.post(url + "/enrol", data={"csrf_token": token, "name": "A"}, timeout=5,
                        files=[("photos", ("notes.txt", b"hello", "text/plain"))])
    assert text.status_code == 400 and "not a JPEG or PNG" in text.text
    huge = browser.post(url + "/enrol", data={"csrf_token": token, "name": "A"}, timeout=30,
                        files=[("photos", ("big.jpg", b"\xff\xd8\xff" + b"0" * (26 * 1024 * 1024), "image/jpeg"))])
    assert huge.status_code == 413
    assert fake.calls == []


def test_identity_refusals_keep_their_meaning(analytics_empty_store: AnalyticsStore) -> None:
    for code, status in ((grpc.StatusCode.NOT_FOUND, 404), (grpc.StatusCode.UNAVAILABLE, 503),
                         (grpc.StatusCode.INVALID_ARGUMENT, 400)):
        with serving(create_app(analytics_empty_store, corrections=FakeCorrections(refuse=code))) as url:
            browser = requests.Session()
            token = csrf_of(browser.get(url + "/enrol", timeout=5).text)
            reply = browser.post(url + "/influencer/inf_aaaa000009/hide", data={"csrf_token": token}, timeout=5)
            assert reply.status_code == status and "inf_aaaa000009 is not known" in reply.text


def test_without_identity_the_forms_are_absent_and_their_pages_answer_503(base_url: str) -> None:
    page = requests.get(base_url + "/", timeout=5).text
    assert 'action="/merge"' not in page and 'href="/review"' not in page
    for path in ("/review", "/enrol", "/api/review.json"):
        assert requests.get(base_url + path, timeout=5).status_code == 503, path
    assert requests.get(base_url + "/api/review.json", timeout=5).json()["error"].startswith("corrections need")


def test_the_overview_in_a_real_browser(base_url: str, analytics_script_name: str, tmp_path: Path,
                                        page: Page) -> None:
    # docs/screenshots show the product on real data; these fixtures' screenshots stay in tmp_path.
    screenshots = tmp_path
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base_url + "/", wait_until="load")

    rows = page.locator("#influencers tbody tr")
    assert rows.count() == len(requests.get(base_url + "/api/influencers.json", timeout=5).json())

    header = page.locator("#influencers th", has_text="Videos")
    header.click()
    cells = "els => els.map(e => parseFloat(e.dataset.value))"
    values = page.locator("#influencers tbody tr td:nth-child(3)").evaluate_all(cells)
    assert values == sorted(values)
    header.click()
    values = page.locator("#influencers tbody tr td:nth-child(3)").evaluate_all(cells)
    assert values == sorted(values, reverse=True)

    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    widths = page.locator("img").evaluate_all("els => els.map(e => [e.src, e.naturalWidth])")
    assert widths and all(w > 0 for _, w in widths), widths

    assert page.get_by_text(analytics_script_name).count() >= 1
    assert dialogs == []
    page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

    page.get_by_role("link", name="Alice").first.click()
    page.wait_for_url("**/influencer/inf_aaaa000001")
    assert page.locator("h1").inner_text() == "Alice"
    assert page.locator("#videos tbody tr").count() > 0
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    widths = page.locator("img").evaluate_all("els => els.map(e => e.naturalWidth)")
    assert all(w > 0 for w in widths)
    page.screenshot(path=str(screenshots / "influencer.png"), full_page=True)


def test_sorting_the_overview_by_influencer_puts_the_named_in_order_and_the_unnamed_after_them(
        base_url: str, page: Page) -> None:
    # Was: an unnamed row sorted by its id, so "inf_…" came between "Ian" and "Kit", and 25 Unnamed rows of
    # the dev corpus came before the 4 named ones (and last one way, first the other)
    page.goto(base_url + "/", wait_until="load")
    header = page.locator("#influencers th", has_text="Influencer")
    ids = "els => els.map(e => e.querySelector('.id').textContent)"
    for _ in ("ascending", "descending"):
        header.click()
        shown = page.locator("#influencers tbody tr td:nth-child(2)").evaluate_all(ids)
        assert shown[-2:] == ["inf_cccc000003", "inf_dddd000004"], shown
        assert set(shown[:2]) == {"inf_aaaa000001", "inf_bbbb000002"}, shown


def test_the_footer_lines_up_with_the_page_at_800_px(base_url: str, page: Page) -> None:
    # Was: the footer kept its 32 px side padding where the page's went to 16 px, its text set in by 16 px
    for width in (1280, 800):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(base_url + "/", wait_until="load")
        left = "e => e.getBoundingClientRect().left + parseFloat(getComputedStyle(e).paddingLeft)"
        assert page.locator("footer").evaluate(left) == page.locator("main").evaluate(left), width


def test_the_overview_merge_button_waits_for_two_ticked_influencers(analytics_store: AnalyticsStore,
                                                                    page: Page) -> None:
    # Was: clicked with none or one ticked, a "Bad Request (400)" page: "tick at least two influencers to merge"
    with serving(create_app(analytics_store, corrections=FakeCorrections())) as url:
        page.goto(url + "/", wait_until="load")
        button = page.locator("#merge-ticked")
        assert button.is_disabled()
        page.locator("tr#inf_aaaa000001 input.pick").check()
        assert button.is_disabled()
        page.locator("tr#inf_cccc000003 input.pick").check()
        assert button.is_enabled()
        page.locator("tr#inf_aaaa000001 input.pick").uncheck()
        assert button.is_disabled()


def test_merging_into_an_influencer_with_nobody_chosen_stays_on_its_page(analytics_store: AnalyticsStore,
                                                                         page: Page) -> None:
    # Was: a "Bad Request (400)" page: "choose at least one other influencer in the list to merge into this one"
    fake = FakeCorrections()
    with serving(create_app(analytics_store, corrections=fake)) as url:
        page.goto(url + "/influencer/inf_aaaa000001", wait_until="load")
        button = page.locator("form#merge button[type=submit]")
        assert button.is_disabled(), "the merge waits for one ticked"
        page.locator("form#merge input[name=ids][value=inf_cccc000003]").check()
        assert page.url == url + "/influencer/inf_aaaa000001" and fake.calls == []
        with page.expect_navigation():
            page.locator("form#merge button[type=submit]").click()
        assert fake.calls == [("merge", ["inf_aaaa000001", "inf_cccc000003"])]


def test_same_person_as_lists_faces_by_name_with_the_id_as_small_text(analytics_store: AnalyticsStore,
                                                                      page: Page) -> None:
    # Was: a list box of bare lines, "Unnamed · inf_cccc000003", picked with Ctrl+click; a name shared by
    # look-alike letters showed twice the same
    analytics_store.replace_appearances({}, {"inf_cccc000003": "Аnn", "inf_dddd000004": "Ann"})  # Cyrillic А
    with serving(create_app(analytics_store, corrections=FakeCorrections())) as url:
        page.goto(url + "/influencer/inf_aaaa000001", wait_until="load")
        rows = page.locator("#same-as li")
        shown = rows.evaluate_all("ls => ls.map(l => [l.querySelector('.name').textContent, "
                                  "l.querySelector('.id').textContent, l.querySelector('img.face') !== null])")
        assert shown == [["<script>alert('x')</script> Bob", "inf_bbbb000002", True],
                         ["Ann", "inf_dddd000004", True], ["Аnn", "inf_cccc000003", True]], shown
        name, small = rows.first.locator(".name"), rows.first.locator(".id")
        size = "e => parseFloat(getComputedStyle(e).fontSize)"
        assert small.evaluate(size) < name.evaluate(size), "the id is the small secondary text"
        rows.first.locator(".name").click()  # the name's label ticks its box
        assert rows.first.locator("input[name=ids]").is_checked()


HOSTILE_URL = "javascript:alert(document.domain)//x.mp4"
HOSTILE_ERROR = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A page over a store whose URLs, errors and names are hostile, with two test-only JSON routes."""
    store = AnalyticsStore(tmp_path_factory.mktemp("hostile") / "a.sqlite")
    face = AppearanceRow("", "inf_aaaa000001", 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")
    store.record_video(VideoRow(HOSTILE_URL, "00000000000000aa", 1.0, DONE, duration_s=3.0), [face])
    store.record_video(VideoRow("https://cdn.example.com/ok.mp4?a=1&b=\"2\"", "00000000000000bb", 2.0, DONE,
                                duration_s=3.0), [face])
    store.record_video(VideoRow("=1+2<script>alert(2)</script>", "", 1.0, FAILED, HOSTILE_ERROR))
    store.replace_appearances({}, {"inf_aaaa000001": "<svg onload=alert(3)>"})
    app = create_app(store)

    @app.get("/api/boom.json")
    def boom() -> str:
        raise RuntimeError("secret detail")

    @app.get("/api/bad.json")
    def bad() -> str:
        from flask import abort
        abort(400)

    with serving(app) as url:
        yield url
    store.close()


def test_a_javascript_url_is_text_and_an_http_url_a_link(hostile_url: str) -> None:
    page = requests.get(hostile_url + "/video/00000000000000aa", timeout=5).text
    assert "javascript:alert(document.domain)//x.mp4</code>" in page
    assert 'href="javascript' not in page.lower()
    page = requests.get(hostile_url + "/video/00000000000000bb", timeout=5).text
    # The quotes percent-encoded, as a browser sends them (links.href: the address as given, in ASCII)
    assert '<a href="https://cdn.example.com/ok.mp4?a=1&amp;b=%222%22" rel="noopener noreferrer nofollow">' in page


def test_hostile_urls_errors_and_names_are_escaped_on_every_page(hostile_url: str) -> None:
    for path in ("/", "/videos", "/video/00000000000000aa", "/influencer/inf_aaaa000001",
                 "/predict?ids=inf_aaaa000001&ids=<script>alert(4)</script>"):
        page = requests.get(hostile_url + path, timeout=5).text
        for raw in ("<script>alert", "<img src=x", "<svg onload"):
            assert raw not in page, (path, raw)
    assert "&lt;img src=x onerror=alert(1)&gt;" in requests.get(hostile_url + "/videos", timeout=5).text


def test_the_csv_downloads_neutralise_formula_cells(hostile_url: str) -> None:
    videos = requests.get(hostile_url + "/download/videos.csv", timeout=5).text
    assert "'=1+2<script>" in videos
    assert "\n=" not in videos and "\n'javascript" not in videos  # a javascript: cell is not a formula


@pytest.mark.parametrize("path", ["/influencer/../../etc/passwd", "/influencer/INF_AAAA00000X",
                                  "/influencer/inf_aaaa000001.jpg", "/influencer/%3Cscript%3E",
                                  "/video/00000000000000AG", "/video/00000000000000aa0", "/video/..%2F..%2Fx",
                                  "/faces/..%2Fsecret.jpg", "/faces/inf_x.jpg",
                                  "/appearance-face/00000000000000aa/inf_x.jpg",
                                  "/appearance-face/nothex/inf_aaaa000001.jpg"])
def test_ids_out_of_pattern_are_not_found(hostile_url: str, path: str) -> None:
    reply = requests.get(hostile_url + path, timeout=5)
    assert reply.status_code == 404 and "Not found" in reply.text


def test_the_json_api_answers_errors_in_json_and_pages_in_html(hostile_url: str) -> None:
    for method, path, status in (("get", "/api/secrets.json", 404), ("post", "/api/videos.json", 405),
                                 ("get", "/api/bad.json", 400), ("get", "/api/boom.json", 500)):
        reply = requests.request(method, hostile_url + path, timeout=5)
        assert reply.status_code == status, path
        assert reply.headers["Content-Type"] == "application/json", path
        assert set(reply.json()) == {"error"} and reply.json()["error"], path
    assert "secret detail" not in requests.get(hostile_url + "/api/boom.json", timeout=5).text
    page = requests.get(hostile_url + "/nope", timeout=5)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")


def test_a_missing_token_on_the_json_api_is_a_json_401(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        reply = requests.get(url + "/api/videos.json", timeout=5)
        assert reply.status_code == 401 and reply.json() == {"error": "missing or wrong token"}


def test_a_row_without_a_url_is_on_the_videos_page_and_in_its_json_and_csv(tmp_path: Path) -> None:
    # Before, such a row reached no store: the page, its JSON and its CSV had one row fewer than the manifest.
    from services.common.row_keys import manifest_row_key

    store = AnalyticsStore(tmp_path / "a.sqlite")
    try:
        store.record_video(VideoRow(url="", location=manifest_row_key("/m", 3, 2), performance=2.0, status=FAILED,
                                    error="line 3: video URL is missing"))
        client = create_app(store).test_client()
        page = client.get("/videos").get_data(as_text=True)
        (row,) = client.get("/api/videos.json").get_json()
        csv_lines = client.get("/download/videos.csv").get_data().decode("utf-8-sig").splitlines()
    finally:
        store.close()
    assert "(no URL)" in page and "line 3: video URL is missing" in page
    assert (row["video_url"], row["status"], row["error"], row["location"]) == (
        "", "failed", "line 3: video URL is missing", "")
    assert csv_lines[1] == ",2.0,\"failed\",\"line 3: video URL is missing\",0.0,0,,"


def test_the_delete_and_rename_addresses_of_an_id_analytics_does_not_know_get_the_404_page(
        corrections_page: tuple[str, FakeCorrections]) -> None:
    # The delete page showed its confirm form for any well-formed id; identity refused the POST only after.
    url, fake = corrections_page
    for path in ("/influencer/inf_0000000099/delete", "/influencer/inf_0000000099/rename"):
        reply = requests.get(url + path, timeout=5, allow_redirects=False)
        assert reply.status_code == 404 and "Not found" in reply.text and 'class="topbar"' in reply.text, path
        assert requests.head(url + path, timeout=5).status_code == 404, path
    for known in ("inf_aaaa000001", "inf_eeee000005"):  # the hidden one too
        assert "Delete" in requests.get(f"{url}/influencer/{known}/delete", timeout=5).text
        assert requests.get(f"{url}/influencer/{known}/rename", timeout=5, allow_redirects=False).status_code == 303


def test_the_audit_lists_count_columns_say_what_they_count(analytics_store: AnalyticsStore) -> None:
    # Was "Videos" and "Faces": a rename of someone in 30 videos read "Videos 0".
    row = AuditRow(f"{1:032x}", "rename", "page", 1.8e9, before_ids=("inf_aaaa000001",),
                   after_ids=("inf_aaaa000001",), after_name="Ann")
    analytics_store.apply_changes(analytics_store.feed_position() + 1, {}, {}, audit=row)
    page = create_app(analytics_store).test_client().get("/audit").get_data(as_text=True)
    head = page[page.index("<thead>"):page.index("</thead>")]
    assert ">Videos<br>changed</th>" in head and ">Faces<br>moved</th>" in head
    assert "0 for a rename" in head
