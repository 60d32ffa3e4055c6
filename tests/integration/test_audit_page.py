"""The audit trail, feedback and Undo on the report page, over the real stack (identity, analytics following its
feed, the page served by waitress), with synthetic people assigned in identity: a correction made on the page
answers with what it changed and an Undo, lands in /audit with the page's session as who, and in /audit.csv;
/audit pages; errors are pages of the site; a refused enrol keeps the name. One test in headless Chromium
merges on the overview and undoes."""

from __future__ import annotations

import csv
import html
import io
import re
import time

import cv2
import numpy as np
import pytest
import requests
from test_registry import person, video
from test_review_queue import record

from influencers.stack import start_stack
from influencers.v1 import identity_pb2_grpc
from services.common.clients import GrpcIdentity
from services.common.rpc import open_channel
from tests.support.browser import chromium

VIDEOS = {"a": "0000000000000b01", "b": "0000000000000b02", "c": "0000000000000b03"}


@pytest.fixture
def page(settings):
    """The stack with three synthetic people, one video each; yields (stack, base url, {a, b, c: id})."""
    stack = start_stack(settings, web=True)
    try:
        ids = {k: record(stack, v, stack.identity.registry.assign(v, video(person(0, k)))) for k, v in VIDEOS.items()}
        yield stack, stack.web_url.rstrip("/"), ids
    finally:
        stack.stop()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def settle(stack, position: int) -> None:
    """Waits until analytics has applied identity's feed up to `position`."""
    deadline = time.monotonic() + 20
    while stack.store.feed_position() < position:
        assert time.monotonic() < deadline, "analytics follows the feed by itself"
        time.sleep(0.05)


def people_in(stack, key: str) -> set[str]:
    return {r.influencer_id for r in stack.store.appearances_in(VIDEOS[key])}


def test_a_merge_on_the_page_says_what_it_did_offers_undo_and_both_are_audited_with_the_session(page) -> None:
    stack, base, ids = page
    browser = requests.Session()
    token = csrf(browser.get(base + "/", timeout=10).text)
    landed = browser.post(base + "/merge", data={"csrf_token": token, "ids": [ids["a"], ids["b"]], "into": ids["a"]},
                          timeout=30)
    assert landed.status_code == 200 and landed.url == f"{base}/influencer/{ids['a']}", "the URL stays the page's"
    assert f"Merged {ids['b']} into {ids['a']}: 1 video" in landed.text
    undo_id = re.search(r'name="audit_id" value="([0-9a-f]{32})"', landed.text).group(1)
    assert people_in(stack, "b") == {ids["a"]}
    assert "Merged" not in browser.get(base + "/videos", timeout=10).text, "said once"

    back = browser.post(base + "/undo", data={"csrf_token": token, "audit_id": undo_id,
                                               "next": f"/influencer/{ids['b']}"}, timeout=30)
    assert back.status_code == 200 and back.url == f"{base}/influencer/{ids['b']}"
    said = f'Undid "Merged {ids["b"]} into {ids["a"]}: 1 video": 1 video, 3 faces back'
    assert said in html.unescape(back.text) and 'value="' + undo_id not in back.text
    assert people_in(stack, "b") == {ids["b"]}, "the merged faces are back under their old id"

    trail = browser.get(base + "/audit", timeout=10).text
    actors = set(re.findall(r"<td class=\"wide-only actor\">(page:[^<]+)</td>", trail))
    assert len(actors) == 1 and re.fullmatch(r"page:open:[0-9a-f]{8}", actors.pop()), "this browser's session"
    assert trail.index("Undid") < trail.index("Merged"), "newest first"
    assert ">undone<" in trail
    rows = list(csv.DictReader(io.StringIO(browser.get(base + "/audit.csv", timeout=10).text)))
    assert [r["action"] for r in rows] == ["undo", "merge"]
    assert rows[0]["undoes"] == rows[1]["audit_id"] == undo_id
    assert rows[1]["before_ids"] == ids["b"] and rows[1]["after_ids"] == ids["a"] and rows[1]["videos"] == "1"
    assert rows[1]["time_utc"].endswith("+00:00")
    again = browser.post(base + "/undo", data={"csrf_token": token, "audit_id": undo_id, "next": "/audit"},
                         timeout=30)
    assert again.status_code == 200 and len(stack.store.audit_rows()) == 2, "a double submit changes nothing"


def test_the_audit_list_pages_newest_first_and_the_csv_is_formula_safe(page) -> None:
    stack, base, ids = page
    s = stack.settings
    ident = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(open_channel(s.identity_target, "",
                                                                            actor="=HYPERLINK(evil)")), 30)
    for n in range(51):
        reply = ident.rename(ids["c"], f"Cat {n}")
    settle(stack, reply.feed_position)
    first = requests.get(base + "/audit", timeout=10).text
    oldest = f"Named {ids['c']} &#39;<bdi>Cat 0</bdi>&#39;</td>"  # each name isolated (test_bidi_names.py)
    assert first.count("<tr>") == 51 and "Cat 50" in first and oldest not in first  # header + 50 rows
    older = re.search(r'href="(/audit\?page_token=[^"]+)"', first).group(1)
    second = requests.get(base + older.replace("&amp;", "&"), timeout=10).text
    assert oldest in second and second.count("<tr>") == 2
    refused = requests.get(base + "/audit?page_token=bogus", timeout=10)
    assert refused.status_code == 400 and "invalid page_token" in refused.text and 'class="topbar"' in refused.text
    rows = list(csv.DictReader(io.StringIO(requests.get(base + "/audit.csv", timeout=10).text)))
    assert len(rows) == 51 and {r["actor"] for r in rows} == {"'=HYPERLINK(evil)"}, "neutralised"
    assert requests.get(base + "/api/audit.json", timeout=10).json()[0]["what"] == \
        f"Named {ids['c']} 'Cat 50' (was 'Cat 49')"


def test_errors_are_pages_of_the_site_and_json_on_the_api(page) -> None:
    _, base, _ = page
    browser = requests.Session()
    token = csrf(browser.get(base + "/", timeout=10).text)
    bad = browser.post(base + "/undo", data={"csrf_token": token, "audit_id": "nope"}, timeout=10)
    assert bad.status_code == 400 and 'class="topbar"' in bad.text and "is not an audit id" in bad.text
    unknown = browser.post(base + "/undo", data={"csrf_token": token, "audit_id": "0" * 32}, timeout=10)
    assert unknown.status_code == 404 and "no undo is kept" in unknown.text and 'class="topbar"' in unknown.text
    wrong_method = browser.get(base + "/undo", timeout=10)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert 'class="topbar"' in wrong_method.text and "Method Not Allowed" in wrong_method.text
    assert 'class="topbar"' in browser.get(base + "/nope", timeout=10).text
    api = browser.get(base + "/api/nope.json", timeout=10)
    assert api.status_code == 404 and "error" in api.json()


def test_a_refused_enrol_keeps_the_name_typed_and_says_why(page) -> None:
    _, base, _ = page
    browser = requests.Session()
    token = csrf(browser.get(base + "/enrol", timeout=10).text)
    blank = cv2.imencode(".png", np.full((120, 120, 3), 200, np.uint8))[1].tobytes()
    for photo, why in ((blank, "no face"), (b"GIF89a not an image", "is not a JPEG or PNG")):
        reply = browser.post(base + "/enrol", data={"csrf_token": token, "name": "Ana Example"},
                             files={"photos": ("ana.png", photo, "image/png")}, timeout=60)
        assert reply.status_code == 400 and why in reply.text
        assert 'value="Ana Example"' in reply.text and 'class="topbar"' in reply.text and "Not enrolled" in reply.text


def test_in_a_browser_a_merge_says_what_it_did_and_undo_puts_it_back(page) -> None:
    stack, base, ids = page
    with chromium() as browser:
        tab = browser.new_page()
        tab.goto(base + "/")
        tab.check(f"input.pick[value={ids['a']}]")
        tab.check(f"input.pick[value={ids['c']}]")
        tab.click("button:has-text('Merge the ticked influencers')")
        tab.wait_for_selector("#feedback")
        message = tab.locator("#feedback").inner_text()
        assert "Merged" in message and ": 1 video" in message
        kept = tab.url.rsplit("/", 1)[1]
        gone = ids["c"] if kept == ids["a"] else ids["a"]
        assert people_in(stack, "c") == people_in(stack, "a") == {kept}
        tab.click("#feedback button:has-text('Undo')")
        tab.wait_for_selector("#feedback:has-text('Undid')")
        assert "Merged" in tab.locator("#feedback").inner_text(), "it says what it undid"
        assert people_in(stack, "a") == {ids["a"]} and people_in(stack, "c") == {ids["c"]}
        assert tab.locator("#feedback button").count() == 0, "an undo offers no undo of its own"
        tab.goto(base + "/audit")
        assert tab.locator("#audit-list tbody tr").count() == 2 and gone in tab.locator("#audit-list").inner_text()
