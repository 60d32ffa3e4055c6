"""Two analysts on the page at the same moment (two sessions over real HTTP, the real stack): opposite merges of
one pair, two names for one person, one undo sent twice. Each landing says what really happened, the trail
lists each change once and truly, and identity and analytics agree."""

from __future__ import annotations

import html
import threading

import pytest
import requests
from test_audit_page import VIDEOS, csrf, page, settle  # noqa: F401 - fixtures

from services.common.clients import connect
from tests.support.agreement import assert_analytics_agrees_with_identity


def at_once(*calls):
    """Runs `calls` in threads started together; returns their answers in order."""
    answers: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(k: int) -> None:
        start.wait()
        answers[k] = calls[k]()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def analyst(base: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    return session, csrf(session.get(base + "/", timeout=10).text)


def agreed(stack) -> None:
    _, analytics = connect(stack.settings)
    assert_analytics_agrees_with_identity(stack, analytics)
    settle(stack, stack.identity.feed.head())


@pytest.mark.parametrize("seed", range(3))
def test_opposite_merges_of_one_pair_at_once_merge_once_and_the_trail_says_who_joined_whom(page, seed):  # noqa: F811
    stack, base, ids = page
    (one, t1), (two, t2) = analyst(base), analyst(base)
    a, b = ids["a"], ids["b"]
    calls = [lambda: one.post(base + "/merge", data={"csrf_token": t1, "ids": [a, b], "into": a}, timeout=30),
             lambda: two.post(base + "/merge", data={"csrf_token": t2, "ids": [a, b], "into": b}, timeout=30)]
    if seed % 2:
        calls.reverse()
    answers = at_once(*calls)
    assert all(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    agreed(stack)
    merges = [r for r in stack.store.audit_rows() if r.action == "merge"]
    assert len(merges) == 1, [(r.before_ids, r.after_ids, r.videos) for r in merges]
    survivor = merges[0].after_ids[0]
    assert {survivor, *merges[0].before_ids} == {a, b}
    assert {r.influencer_id for v in (VIDEOS["a"], VIDEOS["b"]) for r in stack.store.appearances_in(v)} == {survivor}
    for landing in answers:
        text = html.unescape(landing.text)
        assert "Merged" not in text or f"into {survivor}" in text, "no landing says the pair merged the other way"


def test_two_names_for_one_person_at_once_are_both_on_the_trail_in_the_order_they_took_effect(page):  # noqa: F811
    stack, base, ids = page
    (one, t1), (two, t2) = analyst(base), analyst(base)
    a = ids["a"]
    answers = at_once(*[lambda s=s, t=t, n=n: s.post(f"{base}/influencer/{a}/rename", data={"csrf_token": t, "name": n},
                                                      timeout=30) for s, t, n in ((one, t1, "Ann"), (two, t2, "Bo"))])
    assert all(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    agreed(stack)
    renames = [(r.before_name, r.after_name) for r in reversed(stack.store.audit_rows())]
    assert renames in ([("", "Ann"), ("Ann", "Bo")], [("", "Bo"), ("Bo", "Ann")]), renames
    assert stack.store.names() == stack.identity.registry.names() == {a: renames[-1][1]}


def test_one_undo_sent_by_two_analysts_at_once_is_made_and_audited_once(page):  # noqa: F811
    stack, base, ids = page
    identity, _ = connect(stack.settings)
    merged = identity.merge([ids["a"], ids["b"]]).audit.audit_id
    settle(stack, stack.identity.feed.head())
    (one, t1), (two, t2) = analyst(base), analyst(base)
    answers = at_once(*[lambda s=s, t=t: s.post(base + "/undo", data={"csrf_token": t, "audit_id": merged}, timeout=30)
                        for s, t in ((one, t1), (two, t2))])
    assert all(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    agreed(stack)
    assert [(r.action, r.undoes) for r in stack.store.audit_rows()] == [("undo", merged), ("merge", "")]
    assert {r.influencer_id for r in stack.store.appearances_in(VIDEOS["b"])} == {ids["b"]}


def test_a_merge_run_again_from_the_cli_says_nothing_changed_and_is_not_on_the_trail_twice(page, capsys):  # noqa: F811
    from influencers.cli import main

    stack, _, ids = page
    s = stack.settings
    ports = ["--identity-port", str(s.identity_port), "--analytics-port", str(s.analytics_port)]
    for _ in range(2):
        assert main(["merge", ids["a"], ids["b"], "--into", ids["a"], *ports]) == 0
    assert capsys.readouterr().out.strip().endswith("they are one influencer already: nothing changed")
    agreed(stack)
    assert [r.action for r in stack.store.audit_rows()] == ["merge"]
