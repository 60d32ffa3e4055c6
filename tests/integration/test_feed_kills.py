"""Analytics following identity's feed, SIGKILLed between two of its writes (a real child process,
tests/support/follower_child.py): after a change and its position are stored but before its crops are; after a
resync's page is stored, after every page, and after the snapshot's end is stored. The next start goes on from what
was committed: every video's people as identity holds them, each once, every crop, and the feed's position and
digest (Change.digest) those of identity's head."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from influencers.v1 import common_pb2, identity_pb2
from services.analytics.records import VideoRow
from services.analytics.store import AnalyticsStore
from services.identity.analyzer import VideoAnalysis
from services.identity.process import IdentityProcess
from tests.support.people import person

ROOT = Path(__file__).resolve().parents[2]
CHILD = ROOT / "tests" / "support" / "follower_child.py"
VIDEOS = [f"{k:016x}" for k in range(0xa1, 0xa7)]  # six videos, of two people in turn


def follow(data: Path, identity: IdentityProcess, crash_at: str = "") -> int:
    """Runs the child once; its returncode (-9: killed where asked)."""
    env = {**os.environ, "INFLUENCERS_CRASH_AT": crash_at, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(CHILD), str(data), f"127.0.0.1:{identity.port}"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, -9), proc.stderr[-2000:]
    return proc.returncode


def store_video(identity: IdentityProcess, video_id: str, k: int) -> None:
    """As AnalyzeVideo's write: the video's person assigned, then its change appended, under the writers' lock."""
    with identity.registry.lock:
        identity.registry.assign(video_id, VideoAnalysis([person(k, "ab"[k % 2])], frames=3, faces_detected=3,
                                                         faces_encoded=3, stage_seconds={}))
        identity.writer.publish(identity_pb2.CHANGE_KIND_VIDEO, [video_id])


@pytest.mark.parametrize("crash_at", ["follow:applied", "resync:page", "resync:pages", "resync:ended"])
def test_a_follower_killed_between_two_of_its_writes_ends_with_identitys_people_once_and_every_crop(
        settings, tmp_path, crash_at) -> None:
    identity = IdentityProcess(settings.replace(data_dir=tmp_path / "identity"))
    data = tmp_path / "analytics"
    data.mkdir()
    try:
        store = AnalyticsStore.open(settings.replace(data_dir=data))
        for video_id in VIDEOS:
            store.record_video(VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=1.0,
                                        status=common_pb2.VIDEO_STATUS_DONE))
        store.close()
        for k, video_id in enumerate(VIDEOS[:4]):
            store_video(identity, video_id, k)
        armed = crash_at if crash_at.startswith("follow:") else ""
        assert follow(data, identity, armed) == (-9 if armed else 0)
        if not armed:  # caught up: the feed then grows, and the entries after analytics' position are trimmed
            for k, video_id in enumerate(VIDEOS[4:], start=4):
                store_video(identity, video_id, k)
            identity.feed.retention = 1
            identity.feed.trim()
            assert follow(data, identity, crash_at) == -9, "the resync was not killed where asked"
        assert follow(data, identity) == 0

        store = AnalyticsStore.open(settings.replace(data_dir=data))
        try:
            held = identity.registry.appearances(VIDEOS)
            for video_id in VIDEOS:
                got = sorted((a.influencer_id, a.faces) for a in store.appearances_in(video_id))
                assert got == sorted((a.influencer_id, a.faces) for a in held[video_id]), video_id  # each once
            assert store.missing_face_refs(VIDEOS) == []
            head = identity.feed.head()
            assert (store.feed_position(), store.feed_digest()) == (head, identity.feed.digest(head))
        finally:
            store.close()
    finally:
        identity.stop()
