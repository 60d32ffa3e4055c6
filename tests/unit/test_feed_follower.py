"""The follower of identity's change feed (services/analytics/feed.py) against a fake identity (the FeedSource
port) and the real analytics store: order, idempotent replay, crash and resume from the stored position,
the resync of a follower too far behind, and the crops it fetches by reference."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from influencers.v1 import common_pb2, identity_pb2
from services.analytics.feed import Follower, FollowerThread, SoleLeader
from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.common.metrics import register_service
from tests.support.feed_fakes import ANN, BOB, V1, V2, V3, FakeIdentity, appearance, change


@pytest.fixture
def store(tmp_path) -> Iterator[AnalyticsStore]:
    s = AnalyticsStore(tmp_path / "analytics.sqlite3")
    for k, v in enumerate((V1, V2, V3)):
        s.record_video(VideoRow(url=f"/v/{k}.mp4", video_id=v, performance=float(k), status=DONE))
    yield s
    s.close()


def people(store: AnalyticsStore, video_id: str) -> list[str]:
    return [a.influencer_id for a in store.appearances_in(video_id)]


def test_changes_are_applied_in_order_and_the_position_moves_with_them(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)]), names={ANN: "Ann"}), change((V1, [appearance(BOB)])),
                     change((V2, [appearance(ANN)])))
    follower = Follower(identity, store, page_size=2)
    assert follower.catch_up() == 3
    assert people(store, V1) == [BOB] and people(store, V2) == [ANN]
    assert store.feed_position() == 3 and store.names() == {ANN: "Ann"}
    assert identity.reads == [0, 2, 3] and follower.lag() == 0


def test_a_change_sent_again_is_not_applied_twice(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V1, [appearance(BOB)])))
    Follower(identity, store).catch_up()
    identity.replay = True  # the feed answers from the start again: position 1 would put Ann back
    Follower(identity, store).step()
    assert people(store, V1) == [BOB] and store.feed_position() == 2


def test_labels_and_forgotten_videos_follow_the_appearances(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)]), (V2, [appearance(ANN), appearance(BOB)])),
                     change(labels=[common_pb2.InfluencerLabel(influencer_id=BOB, name="Bob", hidden=True)]),
                     change(forgotten=[V1]),
                     change((V2, [appearance(BOB)]), labels=[common_pb2.InfluencerLabel(influencer_id=ANN,
                                                                                         deleted=True)]))
    Follower(identity, store).catch_up()
    assert people(store, V1) == [] and people(store, V2) == [BOB]
    assert store.names() == {BOB: "Bob"} and store.hidden() == {BOB}


def test_a_change_naming_a_video_id_analytics_cannot_hold_is_applied_without_it_and_the_feed_goes_on(
        store, caplog) -> None:
    identity = FakeIdentity()  # identity takes any id of letters, digits, _ and - (ForgetVideo, Recluster)
    identity.publish(change(("not-a-hex-id", [appearance(ANN)]), (V1, [appearance(ANN)])),
                     change(forgotten=["vid_" + "0" * 32, V2]), change((V3, [appearance(BOB)])))
    follower = Follower(identity, store)
    assert follower.catch_up() == 3
    assert store.feed_position() == 3
    assert people(store, V1) == [ANN] and people(store, V3) == [BOB]
    assert "'not-a-hex-id', which is no video id (16 hex digits): left out" in caplog.text


class CrashingStore:
    """The real store, which dies (as a killed process would) instead of applying position `at`, once."""

    def __init__(self, store: AnalyticsStore, at: int) -> None:
        self.store = store
        self.at = at

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def apply_changes(self, position: int, *args: object, **kwargs: object) -> list[str]:
        if position == self.at:
            self.at = -1
            raise RuntimeError("killed")
        return self.store.apply_changes(position, *args, **kwargs)  # type: ignore[arg-type]


def test_a_follower_killed_mid_feed_resumes_from_the_position_stored_with_the_rows(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])), change((V3, [appearance(BOB)])))
    with pytest.raises(RuntimeError):
        Follower(identity, CrashingStore(store, at=2)).step()  # type: ignore[arg-type]
    assert store.feed_position() == 1 and people(store, V2) == []
    Follower(identity, store).catch_up()  # a new process
    assert identity.reads[-2:] == [1, 3]
    assert people(store, V1) == [ANN] and people(store, V2) == [ANN] and people(store, V3) == [BOB]


def test_a_follower_too_far_behind_resyncs_from_the_snapshot_then_follows_on(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V3, [appearance(BOB)])))
    Follower(identity, store).catch_up()
    identity.publish(*[change((V1, [appearance(ANN)])) for _ in range(5)])
    identity.trimmed = 4  # positions up to 4 are gone: the follower at 1 cannot go on
    identity.snapshot_videos = {V1: [appearance(ANN)], V2: [appearance(BOB)]}  # V3 is no longer anyone's
    follower = Follower(identity, store)
    follower.step()
    assert follower.resyncs == 1 and store.feed_position() == 6
    assert people(store, V1) == [ANN] and people(store, V2) == [BOB] and people(store, V3) == []
    identity.publish(change((V2, [appearance(ANN)])))
    follower.catch_up()
    assert people(store, V2) == [ANN] and store.feed_position() == 7


class WatchedSnapshot(FakeIdentity):
    """A fake identity that notes the follower's resync pages as each snapshot page is taken, and that fails
    after `fail_after` pages (None: never)."""

    def __init__(self) -> None:
        super().__init__()
        self.follower: Follower | None = None
        self.seen: list[int] = []
        self.fail_after: int | None = None

    def snapshot(self) -> Iterator[identity_pb2.Changes]:
        for k, page in enumerate(super().snapshot()):
            if k == self.fail_after:
                raise RuntimeError("identity went away mid-snapshot")
            assert self.follower is not None
            self.seen.append(self.follower.resync_pages)
            yield page


def counted(name: str) -> float:
    registry = CollectorRegistry()
    register_service("analytics", registry)
    return registry.get_sample_value(name) or 0.0


def test_a_resync_shows_its_pages_as_it_applies_them_and_falls_to_0_when_it_ends_or_fails(store) -> None:
    identity = WatchedSnapshot()
    identity.publish(change((V3, [appearance(BOB)])), change((V3, [appearance(ANN)])))
    identity.trimmed = 2
    identity.snapshot_videos = {V1: [appearance(ANN)], V2: [appearance(BOB)], V3: [appearance(ANN)]}
    follower = identity.follower = Follower(identity, store)
    applied, resyncs = counted("influencers_feed_changes_applied_total"), counted("influencers_feed_resyncs_total")
    follower.step()
    assert identity.seen == [0, 1, 2] and follower.resync_pages == 0  # 3 pages: 0, 1, 2 applied before each
    assert counted("influencers_feed_resyncs_total") == resyncs + 1
    assert counted("influencers_feed_changes_applied_total") == applied  # a snapshot is no change followed
    identity.publish(change((V2, [appearance(ANN)])))
    follower.catch_up()
    assert counted("influencers_feed_changes_applied_total") == applied + 1
    identity.seen, identity.fail_after, identity.trimmed = [], 2, 10
    with pytest.raises(RuntimeError):
        follower.step()
    assert identity.seen == [0, 1] and follower.resync_pages == 0
    assert counted("influencers_feed_resyncs_total") == resyncs + 1


def test_a_feed_that_starts_again_below_the_applied_position_is_resynced_from(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])))
    Follower(identity, store).catch_up()
    identity.changes = []  # identity's stores were wiped and its feed starts again at 1
    identity.snapshot_videos = {V3: [appearance(BOB)]}
    follower = Follower(identity, store)
    follower.step()
    assert follower.resyncs == 1 and store.feed_position() == 0
    assert people(store, V1) == [] and people(store, V3) == [BOB]
    identity.publish(change((V1, [appearance(BOB)])))
    follower.catch_up()
    assert people(store, V1) == [BOB] and store.feed_position() == 1


def reset(identity: FakeIdentity, feed_id: str, *changes: identity_pb2.Change) -> None:
    """Identity's store made again from empty: a feed of another id whose positions start at 1 again."""
    identity.changes = []
    identity.feed_id = feed_id
    identity.publish(*changes)


def test_a_feed_made_again_that_grew_past_the_applied_position_is_resynced_from_not_taken_as_its_sequel(
        store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])))
    Follower(identity, store).catch_up()
    assert store.feed_id() == "feed-1"
    # The new feed's positions 1 and 2 (V3's people) are below analytics' 2; its 3 and 4 above it.
    reset(identity, "feed-2", change((V3, [appearance(BOB)])), change((V3, [appearance(BOB), appearance(ANN)])),
          change((V1, [appearance(BOB)])), change((V2, [])))
    identity.snapshot_videos = {V1: [appearance(BOB)], V3: [appearance(BOB), appearance(ANN)]}
    follower = Follower(identity, store)
    follower.catch_up()
    assert follower.resyncs == 1 and store.feed_position() == 4 and store.feed_id() == "feed-2"
    assert people(store, V1) == [BOB] and people(store, V2) == [] and sorted(people(store, V3)) == [ANN, BOB]
    identity.publish(change((V2, [appearance(ANN)])))
    follower.catch_up()
    assert follower.resyncs == 1 and people(store, V2) == [ANN] and store.feed_position() == 5


class KilledAtSnapshotEnd(CrashingStore):
    """The real store, which dies (as a killed process would) at the end of a resync, once: the snapshot's
    pages applied, their position and feed id not yet stored."""

    def end_snapshot(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")


def test_a_follower_killed_before_a_resync_stores_its_position_and_feed_id_resyncs_again_when_it_starts(
        store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])))
    Follower(identity, store).catch_up()
    reset(identity, "feed-2", *[change((V3, [appearance(BOB)])) for _ in range(3)])
    identity.snapshot_videos = {V3: [appearance(BOB)]}
    with pytest.raises(RuntimeError):
        Follower(identity, KilledAtSnapshotEnd(store, at=-1)).step()  # type: ignore[arg-type]
    # Position and id are one statement of one transaction: neither moved, so the old feed's position is not
    # taken as the new feed's.
    assert store.feed_position() == 2 and store.feed_id() == "feed-1"
    follower = Follower(identity, store)  # a new process
    follower.catch_up()
    assert follower.resyncs == 1 and store.feed_position() == 3 and store.feed_id() == "feed-2"
    assert people(store, V1) == [] and people(store, V2) == [] and people(store, V3) == [BOB]


def test_a_follower_killed_applying_a_new_feeds_first_change_stores_neither_its_id_nor_its_position(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(BOB)])))
    with pytest.raises(RuntimeError):
        Follower(identity, CrashingStore(store, at=1)).step()  # type: ignore[arg-type]
    assert store.feed_position() == 0 and store.feed_id() == ""
    reset(identity, "feed-2", change((V3, [appearance(BOB)])))  # identity made again before the restart
    follower = Follower(identity, store)
    follower.catch_up()
    assert follower.resyncs == 0 and store.feed_id() == "feed-2" and people(store, V3) == [BOB]
    assert people(store, V1) == [] and people(store, V2) == []


def test_an_empty_store_takes_the_first_feed_id_it_meets_without_a_resync(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])))
    follower = Follower(identity, store)
    follower.catch_up()
    assert follower.resyncs == 0 and store.feed_position() == 1 and store.feed_id() == "feed-1"


def test_a_store_that_followed_a_feed_without_an_id_resyncs_once_when_identity_sends_one(store) -> None:
    identity = FakeIdentity()
    identity.feed_id = ""  # an identity of the release before feed ids
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])))
    follower = Follower(identity, store)
    follower.catch_up()
    assert follower.resyncs == 0 and store.feed_position() == 2 and store.feed_id() == ""
    identity.feed_id = "feed-1"  # identity upgraded: its feed got an id at its first open
    identity.publish(change((V3, [appearance(BOB)])))
    identity.snapshot_videos = {V1: [appearance(ANN)], V2: [appearance(ANN)], V3: [appearance(BOB)]}
    follower.catch_up()
    assert follower.resyncs == 1 and store.feed_position() == 3 and store.feed_id() == "feed-1"
    identity.publish(change((V3, [appearance(ANN)])))
    follower.catch_up()
    assert follower.resyncs == 1 and people(store, V3) == [ANN] and store.feed_position() == 4


def test_crops_analytics_lacks_are_fetched_from_identity_by_reference(store) -> None:
    identity = FakeIdentity()
    identity.crops = {"ref1": b"\xff\xd8jpeg1"}
    identity.publish(change((V1, [appearance(ANN, "ref1")]), (V2, [appearance(BOB, "gone")])))
    follower = Follower(identity, store)
    follower.catch_up()
    assert store.appearance_face(V1, ANN) == b"\xff\xd8jpeg1"
    assert store.appearance_face(V2, BOB) is None  # identity no longer has it: no picture, no failure
    identity.publish(change((V3, [appearance(ANN, "ref1")])))
    follower.catch_up()
    assert store.appearance_face(V3, ANN) == b"\xff\xd8jpeg1"
    assert sorted(identity.crop_requests) == ["gone", "ref1"], "a crop analytics has is not fetched again"


def test_a_follower_killed_before_fetching_the_crops_fetches_them_when_it_starts_again(store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN, "ref1")])))
    identity.crops = {"ref1": b"\xff\xd8jpeg1"}
    follower = Follower(identity, store)
    follower._fill = lambda refs: None  # killed right after the change's transaction
    follower.catch_up()
    assert store.appearance_face(V1, ANN) is None
    thread = FollowerThread(Follower(identity, store), SoleLeader(), idle_s=0.05).start()
    try:
        deadline = time.monotonic() + 2
        while store.appearance_face(V1, ANN) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.appearance_face(V1, ANN) == b"\xff\xd8jpeg1"
    finally:
        thread.stop()


def test_appearances_that_arrive_before_the_video_is_recorded_count_once_it_is(store) -> None:
    late = "d" * 16
    identity = FakeIdentity()
    identity.publish(change((late, [appearance(ANN)])))
    Follower(identity, store).catch_up()
    assert people(store, late) == []
    store.record_video(VideoRow(url="/v/late.mp4", video_id=late, performance=1.0, status=DONE))
    assert people(store, late) == [ANN]


def test_the_follower_thread_applies_a_new_change_within_a_second(store) -> None:
    identity = FakeIdentity()
    thread = FollowerThread(Follower(identity, store), SoleLeader(), idle_s=0.05).start()
    try:
        position = identity.publish(change((V1, [appearance(ANN)])))
        deadline = time.monotonic() + 1.0
        while store.feed_position() < position and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.feed_position() == position and thread.leading
    finally:
        thread.stop()


def test_a_woken_follower_thread_applies_a_new_change_at_once_though_its_idle_poll_is_long(store) -> None:
    identity = FakeIdentity()
    thread = FollowerThread(Follower(identity, store), SoleLeader(), idle_s=60.0).start()
    try:
        deadline = time.monotonic() + 2.0
        while not thread.leading and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # idle: waiting out its 60 s poll
        position = identity.publish(change((V1, [appearance(ANN)])))
        thread.wake()
        deadline = time.monotonic() + 1.0
        while store.feed_position() < position and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.feed_position() == position
    finally:
        started = time.monotonic()
        thread.stop()
        assert time.monotonic() - started < 1.0  # stop wakes it too


def test_a_feed_restored_from_a_backup_that_grew_past_the_applied_position_is_resynced_from_not_taken_as_its_sequel(
        store) -> None:
    identity = FakeIdentity()
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])), change((V3, [appearance(ANN)])))
    follower = Follower(identity, store)
    follower.catch_up()
    assert store.feed_position() == 3 and store.feed_digest() == identity.digest(3)
    # Restored from a backup taken at position 1: the same feed id; its 2 and 3 written again, and 4.
    identity.restore(1)
    identity.publish(change((V2, [appearance(BOB)])), change((V3, [])), change((V1, [appearance(BOB)])))
    identity.snapshot_videos = {V1: [appearance(BOB)], V2: [appearance(BOB)]}
    follower.catch_up()
    assert follower.resyncs == 1 and store.feed_position() == 4 and store.feed_id() == "feed-1"
    assert people(store, V1) == [BOB] and people(store, V2) == [BOB] and people(store, V3) == []
    assert store.feed_digest() == identity.digest(4)  # the snapshot's: a second restore is told apart too
    identity.restore(2)
    identity.publish(change((V3, [appearance(ANN)])), change((V2, [])), change((V1, [])))
    identity.snapshot_videos = {V3: [appearance(ANN)]}
    follower.catch_up()
    assert follower.resyncs == 2 and store.feed_position() == 5
    assert people(store, V1) == [] and people(store, V2) == [] and people(store, V3) == [ANN]
    identity.publish(change((V2, [appearance(BOB)])))  # the restored feed's sequel is followed as ever
    follower.catch_up()
    assert follower.resyncs == 2 and people(store, V2) == [BOB] and store.feed_position() == 6


def test_a_store_without_a_digest_and_an_identity_sending_none_are_followed_as_before(store) -> None:
    identity = FakeIdentity()
    identity.digests = False  # an identity of the release before digests
    identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(ANN)])))
    follower = Follower(identity, store)
    follower.catch_up()
    assert store.feed_position() == 2 and store.feed_digest() == ""
    identity.digests = True  # identity upgraded: the store holds no digest for position 2, nothing to compare
    identity.publish(change((V3, [appearance(BOB)])))
    follower.catch_up()
    assert follower.resyncs == 0 and store.feed_position() == 3 and store.feed_digest() == identity.digest(3)
    identity.digests = False  # rolled back: the stored digest is not compared with the "" it sends
    identity.publish(change((V1, [appearance(BOB)])))
    follower.catch_up()
    assert follower.resyncs == 0 and store.feed_position() == 4 and store.feed_digest() == ""
    assert people(store, V1) == [BOB] and people(store, V2) == [ANN] and people(store, V3) == [BOB]


class Unreachable(FakeIdentity):
    """Identity down for its first `down` reads of the feed."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down = down

    def list_changes(self, after: int, page_size: int):  # type: ignore[no-untyped-def]
        if self.down > 0:
            self.down -= 1
            raise ConnectionError("identity unreachable")
        return super().list_changes(after, page_size)


def test_identity_down_is_one_warning_then_one_line_when_the_feed_is_followed_again(store, caplog) -> None:
    # Before, a warning a second for as long as identity was down (3,600 lines an hour).
    identity = Unreachable(down=5)
    position = identity.publish(change((V1, [appearance(ANN)])))
    caplog.set_level("INFO", logger="services.analytics.feed")
    thread = FollowerThread(Follower(identity, store), SoleLeader(), idle_s=0.01, retry_s=0.01).start()
    try:
        deadline = time.monotonic() + 2
        while store.feed_position() < position and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        thread.stop()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if "following" in r.getMessage()]
    assert lines == [("WARNING", "following identity's feed failed (try 1, retrying every 0 s): identity unreachable"),
                     ("INFO", "following identity's feed again after 5 failed tries")]


def test_a_replica_that_cannot_reach_the_database_for_the_leadership_says_so_once_not_every_second(caplog):
    # Before, a PostgreSQL restart of 15 s gave 15 warnings of three lines each from every analytics replica.
    from services.analytics.feed import AdvisoryLock
    from services.common.database import open_engine

    caplog.set_level("INFO", logger="services.analytics.feed")
    lock = AdvisoryLock(open_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assert not any(lock.acquire() for _ in range(5))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("cannot reach the database for the feed leadership"), lines
    assert "\n" not in lines[0]


def test_each_change_is_applied_in_the_trace_of_the_write_that_made_it_and_one_without_one_is_applied_alike(
        store) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import tracing

    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    identity = FakeIdentity()
    traced = change((V1, [appearance(ANN)]))
    traced.traceparent = f"00-{trace_id}-{span_id}-01"  # as identity's assign writes it
    untraced = change((V2, [appearance(ANN)]))  # an identity tracing nothing, or of an older release
    garbled = change((V3, [appearance(BOB)]))
    garbled.traceparent, garbled.kind = "not a trace context", 99  # 99: a kind a newer identity may send
    identity.publish(traced, untraced, garbled)
    exporter = InMemorySpanExporter()
    tracing.install(["analytics"], exporter, batch=False)
    try:
        assert Follower(identity, store).catch_up() == 3
    finally:
        tracing.shutdown_tracing()
    assert people(store, V1) == [ANN] and people(store, V2) == [ANN] and people(store, V3) == [BOB]
    first, second, third = sorted(exporter.get_finished_spans(),
                                  key=lambda span: span.attributes["influencers.feed_position"])
    assert (first.name, format(first.context.trace_id, "032x"), format(first.parent.span_id, "016x")) == (
        "apply", trace_id, span_id)
    assert second.parent is None and third.parent is None, "no context: a trace of its own"
    assert third.attributes["influencers.change_kind"] == "99"
    assert first.attributes["influencers.videos"] == 1
