"""Many analysts correcting at once, over gRPC: merges that overlap, renames, hides, splits, moves, answers,
erasures, re-derivations and undos from eight threads. Each call either does its whole correction or is
refused with a clear status; afterwards identity and analytics agree on who is in every video and on every
name and hidden flag, and every correction that answered is on the audit trail once."""

from __future__ import annotations

import random
import threading
from collections import Counter

import grpc
import numpy as np
import pytest
from test_registry import video
from test_review_queue import clients, record, stack  # noqa: F401 - fixtures

from influencers.v1 import identity_pb2
from services.common.clients import drain
from services.identity.analyzer import PersonObservation

PEOPLE = 10
RNG = np.random.default_rng(7)
CENTRES = [RNG.normal(scale=0.09, size=128) for _ in range(PEOPLE)]
REFUSED = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION}


def someone(k: int) -> PersonObservation:
    enc = CENTRES[k] + RNG.normal(scale=0.02, size=(3, 128))
    return PersonObservation(person=0, encodings=enc, qualities=[0.9] * 3, timestamps=[0.0, 1.0, 2.0],
                             boxes=[(0, 100, 100, 0)] * 3, first_seen_s=0.0, last_seen_s=2.0, faces=3,
                             screen_time_s=2.0, best_face=b"jpeg", best_quality=0.9)


@pytest.fixture
def people(stack):  # noqa: F811 - the fixture imported above
    """PEOPLE influencers, each in two videos; returns (influencer ids, video ids)."""
    registry = stack.identity.registry
    ids, videos = [], []
    for k in range(PEOPLE):
        for n in range(2):
            video_id = f"{k:08x}{n:08x}"
            seen = registry.assign(video_id, video(someone(k)))
            record(stack, video_id, seen)
            videos.append(video_id)
        ids.append(seen[0].influencer_id)
    assert len(set(ids)) == PEOPLE
    return ids, videos


def test_corrections_from_eight_threads_at_once_leave_identity_and_analytics_agreeing(stack, clients, people):  # noqa: F811
    ident, analytics = clients
    ids, videos = people
    done: list[identity_pb2.Changes] = []
    failures: list[str] = []
    lock = threading.Lock()

    def analyst(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[str] = []
        for _ in range(12):
            a, b = rng.sample(ids, 2)
            action = rng.choice(["merge", "rename", "hide", "unhide", "split", "move", "undo", "answer", "delete",
                                 "recluster"])
            try:
                if action == "merge":
                    reply = ident.merge([a, b])
                elif action == "rename":
                    reply = ident.rename(a, rng.choice(["Ann", "Bo", "", "Cy Dee"]))
                elif action in ("hide", "unhide"):
                    reply = ident.hide(a, action == "hide")
                elif action == "split":
                    reply = ident.split(a, [rng.choice(videos)])
                elif action == "move":
                    reply = ident.move(rng.choice(videos), a, b)
                elif action == "delete":
                    reply = ident.delete(a)
                elif action == "recluster":
                    got = drain(ident.recluster((), resync_only=False))
                    reply = identity_pb2.Changes(feed_position=got.position)
                elif action == "answer":
                    reply = ident.answer(a, b, rng.choice([identity_pb2.REVIEW_ANSWER_SAME,
                                                            identity_pb2.REVIEW_ANSWER_DIFFERENT]))
                else:
                    if not mine:
                        continue
                    reply = ident.undo(mine.pop())
            except grpc.RpcError as exc:
                if exc.code() not in REFUSED:
                    with lock:
                        failures.append(f"{action}: {exc.code().name} {exc.details()}")
                continue
            with lock:
                done.append(reply)
            if reply.audit.audit_id and reply.audit.undoable:
                mine.append(reply.audit.audit_id)

    threads = [threading.Thread(target=analyst, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "no call hangs"
    assert failures == [], "a refusal is NOT_FOUND, INVALID_ARGUMENT or FAILED_PRECONDITION, never another status"
    assert done, "some corrections went through"

    last = max(r.feed_position for r in done)
    assert analytics.wait_for_position(last, 30), "analytics catches up with every change"
    registry = stack.identity.registry
    truth = registry.appearances(videos)
    for video_id in videos:
        in_identity = sorted(a.influencer_id for a in truth.get(video_id, []))
        in_analytics = sorted(r.influencer_id for r in stack.store.appearances_in(video_id))
        assert in_analytics == in_identity, video_id
        assert len(in_identity) == len(set(in_identity)), "a person counted once a video"
    audited = Counter(r.audit_id for r in stack.store.audit_rows())
    answered = [r.audit.audit_id for r in done if r.audit.audit_id]
    assert all(audited[a] == 1 for a in answered), "every correction that answered is audited once"
    assert stack.store.names() == registry.names(), "the same names"
    assert stack.store.hidden() == registry.store.hidden(), "the same hidden flags"
