"""Fifty analysts on the page at once (fifty browser sessions, each with its CSRF token, over HTTP to the page
served by waitress, on the real stack: identity on Qdrant Edge, analytics following its feed), naming the same
influencers and answering the same "same person?" pairs. Every answer is a result or a refusal naming why, never a
5xx; every correction that answered is on the audit trail once; a pair is merged at most once; and afterwards
identity and analytics agree on who is in every video and on every name."""

from __future__ import annotations

import html
import random
import re
import threading
from collections import Counter

import numpy as np
import pytest
import requests
from test_audit_page import csrf
from test_registry import person, video
from test_review_queue import record

from influencers.stack import start_stack
from influencers.v1 import analytics_pb2_grpc
from services.analytics.web.audit_views import DONE_COOKIE
from services.common.clients import GrpcAnalytics
from services.common.rpc import open_channel
from tests.support.agreement import assert_analytics_agrees_with_identity

SESSIONS = 50
ROUNDS = 4  # corrections per session
PAIRS = 4
NAMES = ["Ann", "Bo", "Cy", "Dee"]


def _someone(centre: np.ndarray, seed: int):  # noqa: ANN202
    p = person(0, "a")
    p.encodings = centre + np.random.default_rng(seed).normal(scale=0.02, size=(3, 128))
    return p


def _said(html_text: str) -> str:
    """The message of an error page: its paragraph naming what was wrong."""
    found = re.search(r"no influencer '[^']*'[^<]*", html.unescape(html_text))
    return found.group(0) if found else html_text[-300:]


@pytest.fixture
def page(settings):
    """The stack with PAIRS pairs of influencers, each pair ~0.65 apart (two influencers, within the review band),
    the pairs far from each other; yields (stack, base url, [(a, b)])."""
    stack = start_stack(settings, web=True)
    try:
        rng = np.random.default_rng(41)
        pairs = []
        for k in range(PAIRS):
            centre = rng.normal(scale=0.09, size=128)
            direction = rng.normal(size=128)
            partner = centre + direction / np.linalg.norm(direction) * 0.52
            a, b = (record(stack, video_id, stack.identity.registry.assign(video_id, video(_someone(c, 10 * k + n))))
                    for n, (video_id, c) in enumerate(((f"{k:08x}0000000a", centre), (f"{k:08x}0000000b", partner))))
            assert a != b
            pairs.append((a, b))
        yield stack, stack.web_url.rstrip("/"), pairs
    finally:
        stack.stop()


def test_fifty_sessions_naming_and_answering_the_same_pairs_at_once_lose_and_double_nothing(page) -> None:
    stack, base, pairs = page
    people = [i for pair in pairs for i in pair]
    failures: list[str] = []
    audited: list[tuple[str, str]] = []  # (action, audit id) of each correction that answered with one
    refused: list[tuple[str, int, str]] = []  # (action, status, why)
    lock = threading.Lock()
    start = threading.Barrier(SESSIONS)

    def analyst(seed: int) -> None:
        rng, browser = random.Random(seed), requests.Session()
        token = csrf(browser.get(base + "/review?unlikely=1", timeout=120).text)
        start.wait()
        for _ in range(ROUNDS):
            roll = rng.random()
            if roll < 0.25:  # as the queue's keys answer: the JSON API with the session's token in a header
                a, b = rng.choice(pairs)
                action = rng.choice(["same", "different", "skip"])
                reply = browser.post(base + "/api/review/answer.json", headers={"X-CSRF-Token": token}, timeout=120,
                                     json={"influencer_a": a, "influencer_b": b, "answer": action})
                with lock:
                    if reply.status_code == 200:
                        if reply.json()["audit_id"]:  # none when nothing changed (answered so already)
                            audited.append((action, reply.json()["audit_id"]))
                    elif reply.status_code >= 500 or reply.status_code in (401, 403):
                        failures.append(f"{action} (JSON): {reply.status_code} {reply.text[:300]}")
                    else:
                        refused.append((action, reply.status_code, reply.json()["error"]))
                continue
            if roll < 0.5:
                a, b = rng.choice(pairs)
                action = rng.choice(["same", "different", "skip"])
                reply = browser.post(base + "/review/answer", timeout=120, allow_redirects=False,
                                     data={"csrf_token": token, "influencer_a": a, "influencer_b": b, "answer": action,
                                           "unlikely": "1"})
            else:
                action = "rename"
                form = {"csrf_token": token, "name": rng.choice(NAMES), "next": "/review?unlikely=1"}
                reply = browser.post(f"{base}/influencer/{rng.choice(people)}/rename", data=form, timeout=120,
                                     allow_redirects=False)
            shown = browser.get(base + reply.headers["Location"], timeout=120) if reply.status_code == 303 else reply
            with lock:
                if reply.status_code >= 500 or reply.status_code in (401, 403) or shown.status_code >= 500:
                    failures.append(f"{action}: {reply.status_code} -> {shown.status_code} {shown.text[-300:]}")
                elif reply.status_code == 303 and reply.cookies.get(DONE_COOKIE):
                    audited.append((action, reply.cookies[DONE_COOKIE]))
                elif reply.status_code != 303:
                    refused.append((action, reply.status_code, _said(reply.text)))

    workers = [threading.Thread(target=analyst, args=(k,)) for k in range(SESSIONS)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=600)
    assert failures == [], failures[:5]
    # Refused: an answer or a name for someone another analyst merged away a moment before, saying so
    assert all(status == 404 and "it was merged into inf_" in why for _, status, why in refused), refused[:5]
    assert audited, "some corrections went through"

    s = stack.settings
    analytics = GrpcAnalytics(analytics_pb2_grpc.AnalyticsServiceStub(open_channel(s.analytics_target)), 60)
    assert_analytics_agrees_with_identity(stack, analytics)
    rows = stack.store.audit_rows()
    trail = Counter(row.audit_id for row in rows)
    assert [(action, a) for action, a in audited if trail[a] != 1] == [], "each correction that answered, once"
    listed = requests.get(base + "/audit.csv", timeout=60).text
    assert all(audit_id in listed for _, audit_id in audited), "and on /audit"
    merges = Counter(frozenset((*row.before_ids, *row.after_ids)) for row in rows
                     if row.action in ("merge", "review same"))
    answered_same = {frozenset(pair) for pair in pairs} & set(merges)
    assert answered_same and all(n == 1 for n in merges.values()), f"a pair is merged once: {merges}"
    # No rename is lost to another at the same moment: each one's "was" is the name the one before it gave
    chained = 0
    for influencer_id in people:
        names = [(row.before_name, row.after_name) for row in sorted(rows, key=lambda r: r.position)
                 if row.action == "rename" and row.before_ids == (influencer_id,)]
        assert all(before == earlier[1] for earlier, (before, _) in zip(names, names[1:], strict=False)), names
        assert all(before != after for before, after in names), "a rename that changed nothing is not audited"
        chained += len(names)
    assert chained == sum(1 for action, _ in audited if action == "rename")
