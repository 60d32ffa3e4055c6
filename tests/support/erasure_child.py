"""A child process for the correction kill tests: starts the whole stack on DATA (argv[1]), stores two videos
of two synthetic people, waits until analytics has them, then makes correction argv[2] (delete: erases the
first person; merge: the second into the first; rename: names the first "Ann"), with INFLUENCERS_CRASH_AT (if
set) killing it part way. Prints the first person's id, then the second's, on stdout."""

import sys
import time
from pathlib import Path

import numpy as np

from influencers.stack import start_stack
from influencers.v1 import common_pb2
from services.analytics.records import AppearanceRow, VideoRow
from services.common.clients import connect
from services.common.settings import Settings
from services.identity.analyzer import PersonObservation, VideoAnalysis

CENTRES = {who: np.random.default_rng(seed).normal(scale=0.09, size=128) for seed, who in enumerate("ab")}


def person(k: int, who: str) -> PersonObservation:
    enc = CENTRES[who] + np.random.default_rng(k + 10).normal(scale=0.02, size=(3, 128))
    return PersonObservation(person=k, encodings=enc, qualities=[0.9] * 3, timestamps=[0.0] * 3,
                             boxes=[(0, 100, 100, 0)] * 3, first_seen_s=0.0, last_seen_s=2.0, faces=3,
                             screen_time_s=2.0, best_face=b"\xff\xd8crop-of-" + who.encode(), best_quality=0.9,
                             cooccurs=set())


def main() -> None:
    data = Path(sys.argv[1])
    settings = Settings(data_dir=data, ingest_port=0, identity_port=0, analytics_port=0, web_port=0, workers=1)
    stack = start_stack(settings, web=False)
    registry = stack.identity.registry
    videos = {"00000000000000a1": "a", "00000000000000a2": "b"}
    for video_id, who in videos.items():
        found = registry.assign(video_id, VideoAnalysis([person(0, who)], frames=3, faces_detected=3,
                                                        faces_encoded=3, stage_seconds={}))
        stack.store.record_video(VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=1.0,
                                          status=common_pb2.VIDEO_STATUS_DONE),
                                 [AppearanceRow(video_id, a.influencer_id, 0.0, 2.0, 3, 2.0, 0.9, b"", False)
                                  for a in found])
    identity, _ = connect(stack.settings)
    list(identity.recluster((), resync_only=True, publish=True))  # the feed carries them, as a batch's repair
    victim = registry.store.faces_in("00000000000000a1")[0].record.influencer_id
    other = registry.store.faces_in("00000000000000a2")[0].record.influencer_id
    print(victim, other, flush=True)
    deadline = time.monotonic() + 30
    while victim not in set(stack.store.appearance_frame().influencer_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    op = sys.argv[2] if len(sys.argv) > 2 else "delete"
    if op == "delete":
        identity.erase(victim)
    elif op == "merge":
        identity.merge([victim, other])
    else:
        identity.rename(victim, "Ann")
    print("erased", flush=True)
    stack.stop()


if __name__ == "__main__":
    main()
