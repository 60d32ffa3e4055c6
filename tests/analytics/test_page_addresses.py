"""What the page makes of the address typed or pasted into the browser: ids in capitals find their page,
and the numeric query parameters read one way (empty is absent; negative, words and huge numbers a 400 that
names the parameter). Flask's test client over a filled store: no server needed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import grpc
import pytest
from flask.testing import FlaskClient

from influencers.v1 import identity_pb2
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.common.clients import Written
from services.common.name_text import BadName
from services.identity.corrections import checked_name
from tests.analytics.test_analytics_web import FakeCorrections
from tests.support.rpc_errors import FakeRpcError

VIDEO = f"{0:016x}"


@pytest.fixture
def client(analytics_store: AnalyticsStore) -> Iterator[FlaskClient]:
    yield create_app(analytics_store, corrections=FakeCorrections()).test_client()


@pytest.mark.parametrize(("typed", "canonical"), [
    ("/influencer/INF_AAAA000001", "/influencer/inf_aaaa000001"),
    ("/influencer/Inf_AaAa000001?from=0", "/influencer/inf_aaaa000001?from=0"),
    ("/faces/INF_AAAA000001.jpg", "/faces/inf_aaaa000001.jpg"),
    ("/influencer/INF_AAAA000001/delete", "/influencer/inf_aaaa000001/delete"),
    ("/video/00000000000000AB", "/video/00000000000000ab"),
])
def test_an_id_typed_in_capitals_is_sent_to_its_lower_case_page_with_the_query_kept(
        client: FlaskClient, typed: str, canonical: str) -> None:
    reply = client.get(typed)
    assert reply.status_code == 308 and reply.headers["Location"] == canonical


def test_a_query_sent_with_raw_utf8_bytes_is_kept_percent_encoded_on_the_redirect(client: FlaskClient) -> None:
    # Before, its bytes were read as ASCII with U+FFFD for each other byte: `?q=é` sent raw (curl) went on
    # as `?q=%EF%BF%BD%EF%BF%BD`, another value.
    reply = client.get("/influencer/INF_AAAA000001", environ_overrides={"QUERY_STRING": "q=\xc3\xa9&from=0"})
    assert reply.status_code == 308 and reply.headers["Location"] == "/influencer/inf_aaaa000001?q=%C3%A9&from=0"


def test_an_influencer_in_capitals_ends_on_their_page(client: FlaskClient) -> None:
    reply = client.get("/influencer/INF_AAAA000001", follow_redirects=True)
    assert reply.status_code == 200 and "Alice" in reply.get_data(as_text=True)
    assert client.get("/appearance-face/00000000000000AA/INF_X.jpg").status_code == 404  # not an id in any case
    assert client.get(f"/appearance-face/{VIDEO}/INF_AAAA000001.jpg").headers["Location"] == \
        f"/appearance-face/{VIDEO}/inf_aaaa000001.jpg"


@pytest.mark.parametrize("path", [
    "/influencer/inf_aaaa000001?from=", "/influencer/inf_aaaa000001?from=%20", "/?min_videos=",
    "/chart.png?min_videos=", "/videos?page=", "/audit?page_token=", "/review?dismissed=&unlikely=",
    "/predict?ids=", "/enrol",
])
def test_a_parameter_given_empty_is_the_parameter_absent(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(("path", "name"), [
    ("/influencer/inf_aaaa000001?from=-1", "from"), ("/influencer/inf_aaaa000001?from=abc", "from"),
    ("/influencer/inf_aaaa000001?from=1e3", "from"), ("/influencer/inf_aaaa000001?from=" + "9" * 10_000, "from"),
    ("/?min_videos=-1", "min_videos"), ("/?min_videos=two", "min_videos"),
    ("/chart.png?min_videos=%C2%B2", "min_videos"),
])
def test_a_number_that_is_not_a_whole_number_from_0_is_a_400_naming_the_parameter(
        client: FlaskClient, path: str, name: str) -> None:
    reply = client.get(path)
    text = reply.get_data(as_text=True)
    assert reply.status_code == 400 and f"?{name}=" in text, path
    assert len(text) < 20_000  # a 10 kB value is not echoed whole


def test_a_repeated_parameter_counts_by_its_first_value(client: FlaskClient) -> None:
    assert client.get("/influencer/inf_aaaa000001?from=0&from=x").status_code == 200
    assert client.get("/influencer/inf_aaaa000001?from=x&from=0").status_code == 400


def test_a_place_past_the_last_video_is_a_page_with_a_way_back_to_the_first(client: FlaskClient) -> None:
    reply = client.get("/influencer/inf_aaaa000001?from=999999999")
    assert reply.status_code == 200 and "First page" in reply.get_data(as_text=True)


def test_predict_takes_an_id_in_capitals_and_shows_unknown_values_cut_short(client: FlaskClient) -> None:
    page = client.get("/predict?ids=INF_AAAA000001").get_data(as_text=True)
    assert "<strong>Alice</strong>" in page and "Not known to the model" not in page
    page = client.get("/predict?" + "&".join(f"ids={k}{'x' * 10_000}" for k in range(30))).get_data(as_text=True)
    assert "Not known to the model" in page and "and 20 more" in page and "x" * 100 not in page


def test_a_merge_with_nobody_chosen_says_what_to_do_on_the_form_it_came_from(analytics_store: AnalyticsStore) -> None:
    fake = FakeCorrections()
    client = create_app(analytics_store, corrections=fake).test_client()
    token = _csrf(client)
    from_page = client.post("/merge", data={"csrf_token": token, "into": "inf_aaaa000001", "ids": "inf_aaaa000001"})
    assert from_page.status_code == 400 and "choose at least one other influencer" in from_page.get_data(as_text=True)
    from_overview = client.post("/merge", data={"csrf_token": token, "ids": "inf_aaaa000001"})
    assert "tick at least two influencers" in from_overview.get_data(as_text=True) and fake.calls == []


def _csrf(client: FlaskClient) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/").get_data(as_text=True)).group(1)


class _LongQueue(FakeCorrections):
    """A queue of 145 pairs under the floor, of which identity sends one page (here 2 items)."""

    def review_queue(self, limit: int = 0, include_unlikely: bool = False) -> identity_pb2.ListReviewItemsResponse:
        found = super().review_queue(limit, True)
        return identity_pb2.ListReviewItemsResponse(items=found.items, likely=1, unlikely=145, floor=found.floor)


def test_the_review_page_says_when_it_shows_only_the_first_of_the_pairs_left(
        analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=_LongQueue()).test_client()
    page = " ".join(re.sub(r"<[^>]+>", "", client.get("/review?unlikely=1").get_data(as_text=True)).split())
    assert "This page shows the 2 most likely of these 146" in page
    assert "most likely of these" not in create_app(analytics_store, corrections=FakeCorrections()).test_client().get(
        "/review").get_data(as_text=True)


def test_a_refused_name_comes_back_in_a_form_with_the_reason(analytics_store: AnalyticsStore) -> None:
    refusing = FakeCorrections(refuse=grpc.StatusCode.INVALID_ARGUMENT)
    client = create_app(analytics_store, corrections=refusing).test_client()
    token = _csrf(client)
    typed = "\u200b\u200b"  # identity: no visible characters
    reply = client.post("/influencer/inf_dddd000004/rename", data={"csrf_token": token, "name": typed,
                                                                    "next": "/?min_videos=2"})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 400 and "The name was not saved" in page
    assert "is not known" in page  # identity's reason
    assert f'value="{typed}"' in page and 'name="next" value="/?min_videos=2"' in page
    long = client.post("/influencer/inf_dddd000004/rename", data={"csrf_token": token, "name": "x" * 300})
    assert long.status_code == 400 and "at most 200 characters" in long.get_data(as_text=True)
    assert 'value="' + "x" * 300 + '"' in long.get_data(as_text=True) and refusing.calls == []


class NamingAsIdentity(FakeCorrections):
    """Identity's rule for names (services.identity.corrections.checked_name): a name it refuses is INVALID_ARGUMENT
    with its words."""

    def rename(self, influencer_id: str, name: str) -> Written:
        try:
            checked_name(name)
        except BadName as exc:
            raise FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        return super().rename(influencer_id, name)


@pytest.mark.parametrize("typed", [" ", "\n\t", " \r\n "])
def test_a_name_of_blanks_alone_is_refused_as_the_cli_refuses_it_and_only_an_empty_one_clears(
        analytics_store: AnalyticsStore, typed: str) -> None:
    # Before: the page collapsed it to "" and cleared the name; the CLI refuses it (argument NAME). One rule:
    # name_text.clean_name, identity's.
    naming = NamingAsIdentity()
    client = create_app(analytics_store, corrections=naming).test_client()
    token = _csrf(client)
    reply = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": token, "name": typed})
    assert reply.status_code == 400 and "has no visible characters" in reply.get_data(as_text=True)
    assert naming.calls == []
    cleared = client.post("/influencer/inf_aaaa000001/rename", data={"csrf_token": token, "name": ""})
    assert cleared.status_code == 303 and naming.calls == [("rename", "inf_aaaa000001", "")]


def test_ids_posted_in_capitals_are_those_influencers_as_on_the_cli(analytics_store: AnalyticsStore) -> None:
    fake = FakeCorrections()
    client = create_app(analytics_store, corrections=fake).test_client()
    token = _csrf(client)
    answered = client.post("/api/review/answer.json", headers={"X-CSRF-Token": token},
                           json={"influencer_a": "INF_AAAA000001", "influencer_b": "inf_dddd000004", "answer": "skip"})
    assert answered.status_code == 200
    merged = client.post("/merge", data={"csrf_token": token, "into": "INF_AAAA000001",
                                         "ids": ["inf_aaaa000001", "INF_CCCC000003"]})
    assert merged.status_code == 303 and merged.headers["Location"].startswith("/influencer/inf_aaaa000001")
    pairs = ["inf_aaaa000001 inf_cccc000003", "INF_DDDD000004 inf_dddd000004"]
    twice = client.post("/review/dismiss", data={"csrf_token": token, "pair": pairs})
    assert twice.status_code == 400 and "names one influencer twice" in twice.get_data(as_text=True)
    assert fake.calls == [("answer", "inf_aaaa000001", "inf_dddd000004", "skip"),
                          ("merge", ["inf_aaaa000001", "inf_cccc000003"])]


def test_a_name_added_in_the_less_likely_pairs_comes_back_to_them(analytics_store: AnalyticsStore) -> None:
    client = create_app(analytics_store, corrections=FakeCorrections()).test_client()
    page = client.get("/review?unlikely=1").get_data(as_text=True)
    assert 'action="/influencer/inf_cccc000003/rename"' in page  # unnamed, in a pair under the floor
    assert 'name="next" value="/review?unlikely=1"' in page and 'name="next" value="/review"' not in page
    reply = client.post("/influencer/inf_cccc000003/rename",
                        data={"csrf_token": _csrf(client), "name": "Cy", "next": "/review?unlikely=1"})
    assert reply.headers["Location"] == "/review?unlikely=1#inf_cccc000003"


def test_the_address_of_a_refused_name_opened_again_is_the_influencers_page_not_a_405(client: FlaskClient) -> None:
    reply = client.get("/influencer/inf_aaaa000001/rename")
    assert reply.status_code == 303 and reply.headers["Location"] == "/influencer/inf_aaaa000001"
    assert client.get("/influencer/not-an-id/rename").status_code == 404
