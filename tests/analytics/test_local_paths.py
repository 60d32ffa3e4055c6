"""Where the page sends the browser back to after a form (a rename's or an undo's `next`, the sign-in's way back):
one check, local_paths.local_path, for every form. Before there were two (auth.safe_next and corrections'
_local_path), each missing what the other caught: safe_next let a unicode control through and kept the fragment,
so that an undo's `catching_up=1` landed in it; neither read a path once percent-decoded (`/%2F/evil`)."""

from __future__ import annotations

import pytest
import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.auth import safe_next
from services.analytics.web.local_paths import MAX_PATH_CHARS, local_path
from services.common.clients import Written
from tests.analytics.test_analytics_web import FakeCorrections, csrf_of, serving

ELSEWHERE = [
    "//evil.example/", "///evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example",
    "https://evil.example/", "javascript:alert(1)", "JavaScript:alert(1)", " /x", "evil.example/x", "",
    "/%2F/evil.example", "/%2f%2fevil.example", "/%5Cevil.example", "/%5c%2Fevil.example", "/%09/evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/x\r\nSet-Cookie: a=1",
    "/x\x00", "/x\x7f", "/x\x85", "/" + "a" * MAX_PATH_CHARS, "/" + "\u00e9" * (MAX_PATH_CHARS // 4),
]


@pytest.mark.parametrize("value", ELSEWHERE)
def test_a_value_a_browser_could_read_as_another_host_or_that_no_page_has_is_no_local_path(value: str) -> None:
    assert local_path(value) == "", repr(value)
    assert safe_next(value) == "/", repr(value)


def test_none_is_no_local_path() -> None:
    assert local_path(None) == "" and safe_next(None) == "/"


@pytest.mark.parametrize(("value", "kept"), [
    ("/", "/"),
    ("/review?unlikely=1#item-3", "/review?unlikely=1"),
    ("/influencer/inf_aaaa000001?from=25", "/influencer/inf_aaaa000001?from=25"),
    ("/?sort=name&min_videos=2", "/?sort=name&min_videos=2"),
    ("/videos?q=Zo%C3%AB", "/videos?q=Zo%C3%AB"),  # percent-encoded already: not encoded twice
    ("/videos?q=Zo\u00eb", "/videos?q=Zo%C3%AB"),
    ("/x?name=Ana\u202egnp", "/x?name=Ana%E2%80%AEgnp"),  # a bidi control kept, encoded: the value as given
    ("/\uff0f\uff0fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"),  # unicode slashes: a path of this site
    ("/x\u2028y", "/x%E2%80%A8y"),
    ("/a b\"<c>", "/a%20b%22%3Cc%3E"),
    ("/javascript:alert(1)", "/javascript:alert(1)"),
    # Encoded in a query, a backslash or a line break is a value, not a break of the header or another host
    ("/videos?q=%5Cshare%0A", "/videos?q=%5Cshare%0A"),
    ("/x%0d%0aSet-Cookie: a=1", "/x%0d%0aSet-Cookie:%20a=1"),
])
def test_a_path_of_this_site_is_kept_as_given_in_ascii_without_its_fragment(value: str, kept: str) -> None:
    assert local_path(value) == kept
    assert safe_next(value) == kept
    assert kept.isascii()


class WithUndo(FakeCorrections):
    def undo(self, audit_id: str) -> Written:
        return self._call("undo", audit_id)


@pytest.mark.parametrize("value", ["//evil.example/", "/%2F/evil.example", "/\t/evil.example", "/\\evil.example"])
def test_the_undo_and_the_inline_name_forms_never_send_the_browser_elsewhere(
        analytics_store: AnalyticsStore, value: str) -> None:
    fake = WithUndo()
    with serving(create_app(analytics_store, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/", timeout=30).text)
        undo = browser.post(url + "/undo", data={"csrf_token": token, "audit_id": "a" * 32, "next": value},
                            timeout=30, allow_redirects=False)
        assert undo.status_code == 303 and undo.headers["Location"] == "/", undo.headers["Location"]
        named = browser.post(url + "/influencer/inf_aaaa000001/rename",
                             data={"csrf_token": token, "name": "Ana", "next": value}, timeout=30,
                             allow_redirects=False)
        assert named.status_code == 303 and named.headers["Location"] == "/influencer/inf_aaaa000001"
        assert [c[0] for c in fake.calls] == ["undo", "rename"]


def test_an_undo_sent_back_to_a_name_in_a_query_lands_there_with_the_name_encoded_and_no_fragment(
        analytics_store: AnalyticsStore) -> None:
    fake = WithUndo(caught_up=False)
    with serving(create_app(analytics_store, corrections=fake)) as url:
        browser = requests.Session()
        token = csrf_of(browser.get(url + "/", timeout=30).text)
        undo = browser.post(url + "/undo", data={"csrf_token": token, "audit_id": "a" * 32,
                                                 "next": "/videos?q=Zo\u00eb#row-3"}, timeout=30,
                            allow_redirects=False)
        assert undo.status_code == 303
        assert undo.headers["Location"] == "/videos?q=Zo%C3%AB&catching_up=1"  # was the query in the fragment
