"""A child process for the random-kill test: starts the whole stack on DATA (argv[1]); on a fresh data dir stores
PEOPLE synthetic people in two videos each; then makes corrections chosen by a seeded generator (argv[2]: merge,
rename, hide, split, a review answer, undo) until it is killed, printing "ack AUDIT_ID" for each one identity
answered with an audit entry. Prints "ready" first."""

import random
import sys
from pathlib import Path

import grpc
import numpy as np

from influencers.stack import start_stack
from influencers.v1 import common_pb2, identity_pb2
from services.analytics.records import AppearanceRow, VideoRow
from services.common.clients import connect
from services.common.settings import Settings
from services.identity.analyzer import PersonObservation, VideoAnalysis

PEOPLE = 6
CENTRES = [np.random.default_rng(100 + k).normal(scale=0.09, size=128) for k in range(PEOPLE)]
VIDEOS = [f"{k:08x}{n:08x}" for k in range(PEOPLE) for n in range(2)]
REFUSED = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT}


def person(k: int, n: int) -> PersonObservation:
    enc = CENTRES[k] + np.random.default_rng(1000 * k + n).normal(scale=0.02, size=(3, 128))
    return PersonObservation(person=0, encodings=enc, qualities=[0.9] * 3, timestamps=[0.0] * 3,
                             boxes=[(0, 100, 100, 0)] * 3, first_seen_s=0.0, last_seen_s=2.0, faces=3,
                             screen_time_s=2.0, best_face=b"\xff\xd8crop", best_quality=0.9, cooccurs=set())


def store_people(stack, identity) -> None:
    registry = stack.identity.registry
    for video_id in VIDEOS:
        k, n = int(video_id[:8], 16), int(video_id[8:], 16)
        found = registry.assign(video_id, VideoAnalysis([person(k, n)], frames=3, faces_detected=3,
                                                        faces_encoded=3, stage_seconds={}))
        stack.store.record_video(VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=float(k + n),
                                          status=common_pb2.VIDEO_STATUS_DONE),
                                 [AppearanceRow(video_id, a.influencer_id, 0.0, 2.0, 3, 2.0, 0.9, b"", False)
                                  for a in found])
    list(identity.recluster((), resync_only=True, publish=True))


def correct(identity, registry, rng: random.Random, undoable: list[str]) -> identity_pb2.Changes | None:
    ids = sorted(i for i in registry.store.influencer_counts() if i.startswith("inf_"))
    a, b = rng.sample(ids, 2) if len(ids) > 1 else (ids[0], ids[0])
    action = "split" if len(ids) < 3 else rng.choice(["merge", "rename", "hide", "split", "split", "answer",
                                                      "undo", "undo", "undo"])
    if action == "merge":
        return identity.merge([a, b])
    if action == "rename":
        return identity.rename(a, rng.choice(["Ann", "Bo", "Cy"]))
    if action == "hide":
        return identity.hide(a, rng.random() < 0.5)
    if action == "split":
        return identity.split(a, sorted({f.record.video_id for f in registry.store.faces_of(a)})[:1])
    if action == "answer":
        same = rng.random() < 0.5
        return identity.answer(a, b, identity_pb2.REVIEW_ANSWER_SAME if same else identity_pb2.REVIEW_ANSWER_DIFFERENT)
    return identity.undo(undoable.pop()) if undoable else None


def main() -> None:
    data, seed = Path(sys.argv[1]), int(sys.argv[2])
    settings = Settings(data_dir=data, ingest_port=0, identity_port=0, analytics_port=0, web_port=0, workers=1)
    fresh = not data.exists()
    stack = start_stack(settings, web=False)
    identity, _ = connect(stack.settings)
    if fresh:
        store_people(stack, identity)
    print("ready", flush=True)
    rng, undoable = random.Random(seed), []
    while True:
        try:
            reply = correct(identity, stack.identity.registry, rng, undoable)
        except grpc.RpcError as exc:
            if exc.code() not in REFUSED:
                raise
            continue
        if reply is not None and reply.audit.audit_id:
            print("ack", reply.audit.audit_id, flush=True)
            if reply.audit.undoable:
                undoable.append(reply.audit.audit_id)


if __name__ == "__main__":
    main()
