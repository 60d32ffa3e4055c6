"""Identity's store made again from empty (a new data dir) while analytics keeps its own: the new feed starts at
position 1 again and grows past the position analytics stored before the follower looks. Real identity and
analytics services on loopback: analytics resyncs from the new store's snapshot (the feed's id changed) and
shows that store alone. Was: it took the new feed's changes after its old position as the old feed's next,
skipped the first ones, and showed the old store's people beside part of the new one's, for good.

And identity's data dir restored from a backup taken before analytics' position: the same feed id, and a feed
that grows past that position again. Analytics resyncs (the entry at its position is another change than the one
it applied) instead of taking the restored feed's changes after it as the sequel of its own."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.analytics.feed_grpc import start_follower
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.protoconv import duration
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.identity.process import IdentityProcess

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"
VIDEO_A, VIDEO_B = "00000000000000aa", "00000000000000bb"
OTHER = "00000000000000cc"  # a video no one recorded: forgetting it grows the feed


def frames(video_id: str, person: str) -> list[identity_pb2.AnalyzeVideoRequest]:
    """Three photos of one person as three frames (one shot) of a video."""
    return [identity_pb2.AnalyzeVideoRequest(video_id=video_id, index=k, timestamp=duration(k), span=duration(1.0),
                                             shot=k, image=(PHOTOS / person / f"0{k + 1}.jpg").read_bytes())
            for k in range(3)]


def eventually(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "analytics did not follow identity within the bound"
        time.sleep(0.05)


def identity_at(settings: Settings, data_dir: Path) -> tuple[IdentityProcess, Settings]:
    """An identity service on its own data dir (made empty when new), and the settings that reach it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = IdentityProcess(settings.replace(data_dir=data_dir))
    return process, settings.replace(identity_port=process.port, identity_addr=f"127.0.0.1:{process.port}")


def analyze(process: IdentityProcess, video_id: str, person: str) -> int:
    stub = identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{process.port}"))
    reply = stub.AnalyzeVideo(iter(frames(video_id, person)), timeout=120)
    assert reply.appearances, f"no one found in {person}'s photos"
    return reply.feed_position


@pytest.fixture
def followed(settings) -> Iterator[tuple[AnalyticsStore, list[Callable[[], None]]]]:
    """Analytics served on loopback with VIDEO_A and VIDEO_B recorded as done, its store, and a list the test adds
    the stops of what it starts to: they run last first, before analytics stops."""
    if not (PHOTOS / "colin_powell").is_dir() or not (PHOTOS / "ariel_sharon").is_dir():
        pytest.skip(f"{PHOTOS} not present")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = AnalyticsStore.open(settings)
    analytics = serve_analytics(settings, store)
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{analytics.port}"))
    started: list[Callable[[], None]] = []
    try:
        for video_id in (VIDEO_A, VIDEO_B):
            stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
                video_id=video_id, url=f"{video_id}.mp4", performance=1.0, status=common_pb2.VIDEO_STATUS_DONE)),
                timeout=30)
        yield store, started
    finally:
        for stop in reversed(started):
            stop()
        analytics.stop(0)
        store.close()


def test_a_new_identity_store_whose_feed_grew_past_analytics_position_is_resynced_from_not_mixed_in(
        settings, tmp_path, followed) -> None:
    store, started = followed
    old, reach_old = identity_at(settings, tmp_path / "identity-old")
    started.append(old.stop)
    old_feed_id = old.feed.feed_id
    analyze(old, VIDEO_A, "colin_powell")
    follower = start_follower(reach_old, store)
    started.append(follower.stop)
    eventually(lambda: store.feed_position() == old.feed.head() and bool(store.appearances_in(VIDEO_A)))
    assert store.feed_id() == old_feed_id
    applied = store.feed_position()
    old_people = {a.influencer_id for a in store.appearances_in(VIDEO_A)}
    for stop in (started.pop(), started.pop()):  # the follower, then the old identity
        stop()

    new, reach_new = identity_at(settings, tmp_path / "identity-new")  # identity's store made again
    started.append(new.stop)
    assert new.feed.feed_id != old_feed_id
    assert analyze(new, VIDEO_B, "ariel_sharon") <= applied  # at positions analytics has applied already
    forget = identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{new.port}"))
    while new.feed.head() <= applied:  # the new feed grows past analytics' position before it looks
        forget.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id=OTHER), timeout=30)
    follower = start_follower(reach_new, store)
    started.append(follower.stop)
    eventually(lambda: store.feed_id() == new.feed.feed_id and store.feed_position() == new.feed.head())

    assert store.appearances_in(VIDEO_A) == [], "the old store's people are gone"
    new_people = {a.influencer_id for a in store.appearances_in(VIDEO_B)}
    assert new_people and not new_people & old_people, "the new store's first change is applied"
    assert {a.influencer_id for a in store.appearances_in(VIDEO_B)} == {
        a.influencer_id for page in forget.Recluster(identity_pb2.ReclusterRequest(resync_only=True), timeout=60)
        for v in page.changes.videos if v.video_id == VIDEO_B for a in v.appearances}
    assert follower.follower.resyncs == 1


def _restored_behind(settings, tmp_path, store: AnalyticsStore, started: list[Callable[[], None]]
                     ) -> tuple[IdentityProcess, Settings, identity_pb2_grpc.IdentityServiceStub, int, str]:
    """Identity backed up after VIDEO_A, then VIDEO_B analysed and followed by analytics, then identity's data dir
    restored from the backup (its feed behind analytics' position, under the same feed id), and served again
    (its stop in `started`). Returns the restored service, its reach, a stub of it, analytics' position and the
    feed id."""
    data_dir, backup = tmp_path / "identity", tmp_path / "identity-backup"
    identity, _ = identity_at(settings, data_dir)
    analyze(identity, VIDEO_A, "colin_powell")
    feed_id, backed_up = identity.feed.feed_id, identity.feed.head()
    identity.stop()
    shutil.copytree(data_dir, backup)  # the backup, taken at position `backed_up`

    identity, reach = identity_at(settings, data_dir)
    started.append(identity.stop)
    analyze(identity, VIDEO_B, "ariel_sharon")
    follower = start_follower(reach, store)
    started.append(follower.stop)
    eventually(lambda: store.feed_position() == identity.feed.head() and bool(store.appearances_in(VIDEO_B)))
    applied = store.feed_position()
    assert applied > backed_up
    for stop in (started.pop(), started.pop()):  # the follower, then identity
        stop()

    shutil.rmtree(data_dir)
    shutil.copytree(backup, data_dir)  # identity's data dir restored
    restored, reach = identity_at(settings, data_dir)
    started.append(restored.stop)
    assert restored.feed.feed_id == feed_id and restored.feed.head() == backed_up
    stub = identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{restored.port}"))
    return restored, reach, stub, applied, feed_id


def test_an_identity_store_restored_from_a_backup_whose_feed_grew_past_analytics_position_is_resynced_from(
        settings, tmp_path, followed) -> None:
    store, started = followed
    restored, reach, forget, applied, feed_id = _restored_behind(settings, tmp_path, store, started)
    while restored.feed.head() <= applied:  # the restored feed grows past analytics' position before it looks
        forget.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id=OTHER), timeout=30)
    follower = start_follower(reach, store)
    started.append(follower.stop)
    eventually(lambda: follower.follower.resyncs == 1 and store.feed_position() == restored.feed.head())

    assert store.appearances_in(VIDEO_B) == [], "the people of changes the restore undid are gone"
    assert {a.influencer_id for a in store.appearances_in(VIDEO_A)} == {
        a.influencer_id for page in forget.Recluster(identity_pb2.ReclusterRequest(resync_only=True), timeout=60)
        for v in page.changes.videos if v.video_id == VIDEO_A for a in v.appearances} != set()
    assert store.feed_id() == feed_id


def test_a_restored_identity_whose_feed_grew_past_analytics_position_and_was_trimmed_there_is_resynced_from(
        settings, tmp_path, followed) -> None:
    """The restored feed's entry at analytics' position is trimmed before the follower looks: identity keeps that
    entry's digest, and sends it. Was: no digest for a trimmed entry, and the restored feed taken as the sequel."""
    store, started = followed
    restored, reach, forget, applied, _ = _restored_behind(settings, tmp_path, store, started)
    while restored.feed.head() < applied + 2:
        forget.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id=OTHER), timeout=30)
    restored.feed.retention = 2  # (INFLUENCERS_FEED_RETENTION is 100 at least) the newest two entries kept
    restored.feed.trim()  # as every TRIM_EVERY appends: the restored feed's entry at `applied` goes
    assert list(restored.feed.entries([applied])) == []
    assert restored.feed.read(applied, 10)[0], "a follower at `applied` is not told it is too far behind"
    follower = start_follower(reach, store)
    started.append(follower.stop)
    eventually(lambda: follower.follower.resyncs == 1 and store.feed_position() == restored.feed.head())

    assert store.appearances_in(VIDEO_B) == [], "the people of changes the restore undid are gone"
    assert {a.influencer_id for a in store.appearances_in(VIDEO_A)} != set()
