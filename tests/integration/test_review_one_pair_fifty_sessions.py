"""Fifty page sessions answer the same pair of the queue at the same moment (the real stack over HTTP): exactly one
answer is saved, and every other session is told that its answer changed nothing and why. The 49 others were told
"Answer saved", as if each had merged the pair (or kept it apart) itself."""

from __future__ import annotations

import html
import re
import threading
from collections import Counter

import pytest
import requests
from test_audit_page import csrf
from test_page_many_sessions import page  # noqa: F401 - the fixture

SESSIONS = 50
TOLD = {"same": "was not saved: they are one person already. Merged ",
        "different": "changed nothing: they are kept apart already"}


@pytest.mark.parametrize("answer", ["same", "different"])
def test_fifty_sessions_answering_one_pair_at_once_save_it_once_and_tell_the_others(page, answer: str) -> None:  # noqa: F811
    stack, base, pairs = page
    a, b = pairs[0]
    replies: list[tuple[int, dict]] = []
    lock = threading.Lock()
    start = threading.Barrier(SESSIONS)

    def analyst() -> None:
        browser = requests.Session()
        token = csrf(browser.get(base + "/review?unlikely=1", timeout=120).text)
        start.wait()
        reply = browser.post(base + "/api/review/answer.json", headers={"X-CSRF-Token": token}, timeout=120,
                             json={"influencer_a": a, "influencer_b": b, "answer": answer})
        with lock:
            replies.append((reply.status_code, reply.json()))

    workers = [threading.Thread(target=analyst) for _ in range(SESSIONS)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=600)
    assert len(replies) == SESSIONS and {s for s, _ in replies} == {200}, Counter(s for s, _ in replies)
    saved = [r for _, r in replies if r["audit_id"]]
    assert len(saved) == 1, Counter(r["message"] for _, r in replies)
    trail = [row for row in stack.store.audit_rows() if row.action == f"review {answer}"]
    assert len(trail) == 1 and trail[0].audit_id == saved[0]["audit_id"]
    told = [r for _, r in replies if not r["audit_id"]]
    assert all(f"Your answer “{answer}” for {a} and {b} {TOLD[answer]}" in r["message"] and not r["undo"]
               for r in told), Counter(r["message"] for r in told)

    # The queue's form (no script) lands on the queue saying so too, once
    browser = requests.Session()
    token = csrf(browser.get(base + "/review?unlikely=1", timeout=60).text)
    reply = browser.post(base + "/review/answer", allow_redirects=False, timeout=60,
                         data={"csrf_token": token, "influencer_a": a, "influencer_b": b, "answer": answer})
    assert reply.status_code == 303, reply.text[-300:]
    shown = browser.get(base + reply.headers["Location"], timeout=60).text
    said = re.search(r'id="not-saved"[^>]*>(.*?)</p>', shown, re.S)
    assert said and TOLD[answer] in html.unescape(re.sub(r"<[^>]+>", "", said.group(1))), shown[-1500:]
    assert 'id="not-saved"' not in browser.get(base + "/review?unlikely=1", timeout=60).text, "said once"
