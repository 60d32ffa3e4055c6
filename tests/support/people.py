"""Two synthetic people in two videos, stored through a running in-process stack (no face model): identity
assigns them, analytics records the videos, identity publishes them in its feed, and analytics follows."""

import time

import numpy as np

from influencers.v1 import common_pb2
from services.analytics.records import AppearanceRow, VideoRow
from services.common.clients import connect
from services.identity.analyzer import PersonObservation, VideoAnalysis
from services.identity.facestore import FacePoint, FaceRecord, point_id

CENTRES = {who: np.random.default_rng(seed).normal(scale=0.09, size=128) for seed, who in enumerate("ab")}
VIDEOS = {"00000000000000a1": "a", "00000000000000a2": "b"}
BIG_VIDEO = "00000000000000b1"
BIG = 1100  # faces of add_faces: more than one write of the face store takes (1,024)


def person(k: int, who: str) -> PersonObservation:
    enc = CENTRES[who] + np.random.default_rng(k + 10).normal(scale=0.02, size=(3, 128))
    return PersonObservation(person=k, encodings=enc, qualities=[0.9] * 3, timestamps=[0.0] * 3,
                             boxes=[(0, 100, 100, 0)] * 3, first_seen_s=0.0, last_seen_s=2.0, faces=3,
                             screen_time_s=2.0, best_face=b"\xff\xd8crop-of-" + who.encode(), best_quality=0.9,
                             cooccurs=set())


def add_two_people(stack) -> list[str]:
    """Stores the two videos in `stack`; returns the two people's influencer ids once analytics has them."""
    registry = stack.identity.registry
    for video_id, who in VIDEOS.items():
        found = registry.assign(video_id, VideoAnalysis([person(0, who)], frames=3, faces_detected=3,
                                                        faces_encoded=3, stage_seconds={}))
        stack.store.record_video(VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=1.0,
                                          status=common_pb2.VIDEO_STATUS_DONE),
                                 [AppearanceRow(video_id, a.influencer_id, 0.0, 2.0, 3, 2.0, 0.9, b"", False)
                                  for a in found])
    identity, _ = connect(stack.settings)
    list(identity.recluster((), resync_only=True, publish=True))  # the feed carries them, as a batch's repair
    ids = [registry.store.faces_in(v)[0].record.influencer_id for v in VIDEOS]
    deadline = time.monotonic() + 30
    head = stack.identity.feed.head()
    while stack.store.feed_position() < head and time.monotonic() < deadline:  # analytics has applied it all
        time.sleep(0.05)
    return ids


def store_two_people(settings) -> set[str]:
    """A stack started on `settings`, the two people stored, the stack stopped; returns their ids."""
    from influencers.stack import start_stack

    stack = start_stack(settings, web=False)
    try:
        return set(add_two_people(stack))
    finally:
        stack.stop()


def add_faces(stack, video_id: str, influencer_id: str, count: int) -> None:
    """Stores `count` faces of `influencer_id` (one a person, near person "a") in `video_id`, as identity and
    analytics have them after a batch: the store written directly (assigning a thousand people is slow)."""
    rng = np.random.default_rng(5)
    stack.identity.registry.store.upsert([
        FacePoint(point_id(video_id, k, 0), (CENTRES["a"] + rng.normal(scale=0.02, size=128)).astype(np.float32),
                  FaceRecord(video_id, k, influencer_id)) for k in range(count)])
    stack.store.record_video(VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=1.0,
                                      status=common_pb2.VIDEO_STATUS_DONE), [])
    identity, _ = connect(stack.settings)
    list(identity.recluster((), resync_only=True, publish=True))
