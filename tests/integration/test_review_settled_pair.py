"""An answer, through the queue's no-script form, to a pair another analyst settled a moment before (the real stack
over HTTP: identity on Qdrant Edge, analytics following its feed, the page served by waitress). It was a 404 page in
place of the queue; it is now the queue, with a line saying the answer was not saved and which correction settled
the pair, as the scripted path says it (its alert quotes identity's refusal) and stays on the queue."""

from __future__ import annotations

import html
import re

import requests
from test_audit_page import csrf
from test_page_many_sessions import page  # noqa: F401 - the fixture

from services.analytics.web.audit_views import DONE_COOKIE


def _notice(text: str) -> str:
    found = re.search(r'id="not-saved"[^>]*>(.*?)</p>', text, re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))) if found else ""


def _answer_form(browser: requests.Session, base: str, token: str, a: str, b: str, answer: str) -> requests.Response:
    return browser.post(base + "/review/answer", allow_redirects=False, timeout=60,
                        data={"csrf_token": token, "influencer_a": a, "influencer_b": b, "answer": answer,
                              "unlikely": "1", "next": f"item-{a}-{b}"})


def test_answering_a_pair_another_session_just_merged_shows_the_queue_saying_the_pair_was_settled_and_by_what(
        page) -> None:  # noqa: F811
    stack, base, pairs = page
    (a, b), (c, d), (e, _) = pairs[0], pairs[1], pairs[2]
    mine, theirs = requests.Session(), requests.Session()
    token = csrf(mine.get(base + "/review?unlikely=1", timeout=60).text)  # the queue, shown before the merge
    their_token = csrf(theirs.get(base + "/review?unlikely=1", timeout=60).text)
    merged = _answer_form(theirs, base, their_token, a, b, "same")
    assert merged.status_code == 303 and merged.cookies.get(DONE_COOKIE)
    for answer in ("different", "skip"):
        reply = _answer_form(mine, base, token, a, b, answer)
        assert reply.status_code == 303, (answer, reply.status_code, reply.text[-400:])
        assert reply.headers["Location"].startswith("/review?") and not reply.cookies.get(DONE_COOKIE)
        shown = mine.get(base + reply.headers["Location"], timeout=60)
        assert shown.status_code == 200 and 'id="review-count"' in shown.text
        said = _notice(shown.text)
        assert f"Your answer “{answer}” for {a} and {b} was not saved: they are one person already" in said, said
        assert "Merged " in said and "on the Audit page" in said, said
    # A pair one of whom joined a third person since the page was shown: named, and the answer not saved either
    joined = theirs.post(base + "/merge", allow_redirects=False, timeout=60,
                         data={"csrf_token": their_token, "ids": [e, c], "into": e})
    assert joined.status_code == 303, joined.text[-400:]
    assert _answer_form(mine, base, token, d, "inf_0000000000", "skip").status_code == 404  # nobody: still a 404
    reply = _answer_form(mine, base, token, c, d, "different")
    assert reply.status_code == 303, reply.text[-400:]
    said = _notice(mine.get(base + reply.headers["Location"], timeout=60).text)
    assert f"Your answer “different” for {c} and {d} was not saved" in said, said
    # A link to the queue with these arguments but no refusal behind it says nothing: the line is no free text
    assert _notice(mine.get(f"{base}/review?not_saved=different&pair_a={pairs[3][0]}&pair_b={pairs[3][1]}",
                            timeout=60).text) == ""


def test_none_of_these_with_a_pair_another_session_merged_keeps_the_others_apart_and_says_which_was_settled(
        page) -> None:  # noqa: F811
    """"None of these are the same" met the merged pair first and answered the 404 page: no pair kept apart."""
    stack, base, pairs = page
    mine, theirs = requests.Session(), requests.Session()
    token = csrf(mine.get(base + "/review?unlikely=1", timeout=60).text)
    their_token = csrf(theirs.get(base + "/review?unlikely=1", timeout=60).text)
    (a, b), (c, d), (e, f) = pairs[0], pairs[1], pairs[2]
    assert _answer_form(theirs, base, their_token, a, b, "same").status_code == 303
    reply = mine.post(base + "/review/dismiss", allow_redirects=False, timeout=60,
                      data={"csrf_token": token, "pair": [f"{a} {b}", f"{c} {d}", f"{e} {f}"], "unlikely": "1"})
    assert reply.status_code == 303, reply.text[-400:]
    shown = mine.get(base + reply.headers["Location"], timeout=60).text
    assert "Kept 2 pairs apart" in shown, shown[-2000:]
    said = _notice(shown)
    assert f"Your answer “different” for {a} and {b} was not saved: they are one person already" in said, said
    different = [r for r in stack.store.audit_rows() if r.action == "review different"]
    assert len(different) == 2
    assert {frozenset(r.before_ids) for r in different} == {frozenset((c, d)), frozenset((e, f))}


def test_none_of_these_with_every_pair_merged_meanwhile_names_the_first_three_and_counts_the_rest(
        page) -> None:  # noqa: F811
    """Only the first settled pair was named: the others were off the queue with no word of why."""
    stack, base, pairs = page
    mine, theirs = requests.Session(), requests.Session()
    token = csrf(mine.get(base + "/review?unlikely=1", timeout=60).text)
    their_token = csrf(theirs.get(base + "/review?unlikely=1", timeout=60).text)
    for a, b in pairs:
        assert _answer_form(theirs, base, their_token, a, b, "same").status_code == 303
    reply = mine.post(base + "/review/dismiss", allow_redirects=False, timeout=60,
                      data={"csrf_token": token, "pair": [f"{a} {b}" for a, b in pairs], "unlikely": "1"})
    assert reply.status_code == 303, reply.text[-400:]
    said = _notice(mine.get(base + reply.headers["Location"], timeout=60).text)
    for a, b in pairs[:3]:
        assert f"Your answer “different” for {a} and {b} was not saved: they are one person already" in said, said
    assert f"for {pairs[3][0]}" not in said and "“different” for 1 more pair was not saved either" in said, said
    assert not [r for r in stack.store.audit_rows() if r.action == "review different"]
    # The count is the dismissal's, said once (a cookie): the address again, or one naming every pair, counts none,
    # and names three at most (each costs two scans of the audit trail: 100 pairs were 5 s of a 5,000-row trail)
    again = _notice(mine.get(base + reply.headers["Location"], timeout=60).text)
    assert again.count("was not saved") == 3 and "more pair" not in again, again
    every = "&".join(f"pair_a={a}&pair_b={b}" for a, b in pairs * 25)
    crafted = _notice(mine.get(f"{base}/review?not_saved=different&{every}", timeout=60).text)
    assert crafted.count("was not saved") == 3 and "more pair" not in crafted, crafted
