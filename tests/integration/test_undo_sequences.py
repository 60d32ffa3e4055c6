"""Corrections in random order, some undone on the way, over the real stack: whatever the order, every undo that
can be made leaves the store as it was, and no step leaves a pin, a name or a hidden flag that no correction
explains (a pin to another influencer than the face's, a label on an influencer with no face)."""

from __future__ import annotations

import contextlib
import random

import grpc
import numpy as np
import pytest
from test_audit import clients
from test_registry import CENTRES, person, video
from test_review_queue import record

from influencers.v1 import identity_pb2
from tests.support.following import identity_and_analytics

REFUSALS = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT}
KINDS = ("rename", "hide", "unhide", "merge", "split", "move", "different", "same", "undo")


@pytest.fixture
def stack(settings):
    with identity_and_analytics(settings) as running:
        yield running


def _faces(store):  # (point id, influencer, pin) of every face of a video
    return {f.point_id: (f.record.influencer_id, f.record.pinned) for v in sorted(store.video_ids())
            for f in store.faces_in([v])}


def _people(stack, base: int) -> list[str]:
    """Four people in two videos each; returns the videos."""
    videos = []
    for k, who in enumerate("aabbccdd"):
        video_id = f"{base + k:016x}"
        record(stack, video_id, stack.identity.registry.assign(video_id, video(person(0, who))))
        videos.append(video_id)
    return videos


def _correct(ident, rng: random.Random, kind: str, live: list[str], videos: list[str]) -> identity_pb2.Changes:
    x, y, video_id = rng.choice(live), rng.choice(live), rng.choice(videos)
    if kind == "rename":
        return ident.rename(x, rng.choice(["Ana", "Bo", ""]))
    if kind in ("hide", "unhide"):
        return ident.hide(x, kind == "hide")
    if kind == "merge":
        return ident.merge([x, y])
    if kind == "split":
        return ident.split(x, [video_id])
    if kind == "move":
        return ident.move(video_id, x, rng.choice(["", y]))
    answer = identity_pb2.REVIEW_ANSWER_SAME if kind == "same" else identity_pb2.REVIEW_ANSWER_DIFFERENT
    return ident.answer(x, y, answer)


def _explained(registry) -> None:
    faces = _faces(registry.store).values()
    assert all(pin in ("", owner) for owner, pin in faces), "a face pinned to another influencer than its own"
    labelled = [*registry.names(), *registry.store.hidden()]
    assert all(registry.store.faces_of(i) for i in labelled), "a name or hidden flag on an influencer with no face"


@pytest.mark.parametrize("seed", range(8))
def test_random_corrections_every_one_undone_in_any_order_leave_the_store_as_it_was(stack, seed) -> None:
    rng = random.Random(seed)
    ident, _ = clients(stack)
    registry = stack.identity.registry
    videos = _people(stack, 0xe000 + 64 * seed)
    start = _faces(registry.store)
    kept: list[str] = []
    for _ in range(rng.randint(4, 14)):
        kind = rng.choice(KINDS)
        try:
            if kind == "undo":
                if kept:
                    undone = rng.choice(kept)
                    ident.undo(undone)
                    kept.remove(undone)
                continue
            reply = _correct(ident, rng, kind, sorted({i for i, _ in _faces(registry.store).values()}), videos)
        except grpc.RpcError as exc:
            assert exc.code() in REFUSALS, exc.details()
            continue
        if reply.audit.undoable:
            kept.append(reply.audit.audit_id)
        _explained(registry)
    for _ in range(len(kept) + 1):  # each round undoes at least the newest correction still standing
        for audit_id in rng.sample(kept, len(kept)):
            try:
                ident.undo(audit_id)
                kept.remove(audit_id)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc.details()
    assert not kept
    assert _faces(registry.store) == start
    assert registry.names() == {} and registry.store.hidden() == set()


@pytest.mark.parametrize("seed", range(8))
def test_random_corrections_enrolments_and_erasures_never_leave_a_label_or_pin_nothing_explains(stack, seed) -> None:
    rng = random.Random(seed)
    ident, _ = clients(stack)
    registry = stack.identity.registry
    videos = _people(stack, 0xd000 + 64 * seed)
    kept: list[str] = []
    for step in range(rng.randint(6, 18)):
        live = sorted({i for i, _ in _faces(registry.store).values()}) or ["inf_0000000000"]
        kind = rng.choice((*KINDS, "undo", "erase", "enrol"))
        try:
            if kind == "undo":
                if not kept:
                    continue
                reply = ident.undo(rng.choice(kept))
            elif kind == "erase":
                reply = ident.delete(rng.choice(live))
            elif kind == "enrol":
                photo = CENTRES[rng.choice("abcd")] + np.random.default_rng(step).normal(scale=0.02, size=128)
                with contextlib.suppress(ValueError):  # the photos match someone named otherwise
                    registry.enrol(rng.choice(["Ana", "Dee"]), [(f"{rng.randrange(1 << 60):016x}", photo)])
                continue
            else:
                reply = _correct(ident, rng, kind, live, videos)
        except grpc.RpcError as exc:
            assert exc.code() in REFUSALS, exc.details()
            continue
        if reply.audit.undoable:
            kept.append(reply.audit.audit_id)
        _explained(registry)
