"""The batch protocol (services/ingest/batch.py) against in-memory fakes of its two ports: identity publishes,
analytics is only waited for (it follows identity's feed by itself), and repair after an interrupted batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from influencers.v1 import common_pb2, identity_pb2
from services.ingest import batch


def appearance(influencer_id: str, face_ref: str) -> common_pb2.Appearance:
    return common_pb2.Appearance(influencer_id=influencer_id, faces=2, face_ref=face_ref)


def video(video_id: str, *appearances: common_pb2.Appearance) -> common_pb2.VideoAppearances:
    return common_pb2.VideoAppearances(video_id=video_id, appearances=appearances)


def paged(items: list[str], token: str, size: int) -> tuple[list[str], str]:
    start = int(token or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")


class FakeIdentity:
    """A face store with `videos` (id -> appearances), a feed whose head moves with each change published, and a
    batch log per worker. Recluster sends `page_size` videos a message; `regroup` is what a re-clustering
    changes (video -> appearances)."""

    def __init__(self, videos: dict[str, list[common_pb2.Appearance]], page_size: int = 2) -> None:
        self.videos = videos
        self.page_size = page_size
        self.regroup: dict[str, list[common_pb2.Appearance]] = {}
        self.open_batches: dict[str, str] = {}
        self.calls: list[tuple[str, object]] = []
        self.head = 0
        self.published: list[list[str]] = []  # video ids of each change published

    def open_batch(self, batch_id: str, worker: str) -> bool:
        interrupted = worker in self.open_batches
        self.open_batches[worker] = batch_id
        return interrupted

    def close_batch(self, worker: str) -> None:
        del self.open_batches[worker]

    def list_video_ids(self, page_token: str) -> tuple[list[str], str]:
        self.calls.append(("list_video_ids", page_token))
        return paged(sorted(self.videos), page_token, self.page_size)

    def forget_video(self, video_id: str) -> int:
        self.calls.append(("forget_video", video_id))
        del self.videos[video_id]
        self.head += 1
        return self.head

    def recluster(self, video_ids: Sequence[str], resync_only: bool, publish: bool = False
                  ) -> Iterator[identity_pb2.Changes]:
        self.calls.append(("recluster", (tuple(video_ids), resync_only, publish)))
        if not resync_only:
            self.videos.update(self.regroup)
        changed = sorted(self.videos) if resync_only else sorted(self.regroup)
        pages = []
        for k in range(0, max(len(changed), 1), self.page_size):
            page = identity_pb2.Changes(
                videos=[video(v, *self.videos[v]) for v in changed[k:k + self.page_size]])
            if k == 0:
                page.influencers, page.changed_videos = 3, len(changed)
            if publish or not resync_only:  # published in the feed before the stream starts
                self.head += 1
                self.published.append([v.video_id for v in page.videos])
            pages.append(page)
        pages[-1].feed_position = self.head
        yield from pages


class FakeAnalytics:
    """A system of record: done video ids, and the position of identity's feed it has applied (`applied`,
    moved by the test as the follower would)."""

    def __init__(self, done: list[str], page_size: int = 2, applied: int = 10**9) -> None:
        self.done = done
        self.page_size = page_size
        self.applied = applied
        self.list_tokens: list[str] = []
        self.waits: list[tuple[int, float]] = []

    def list_done_video_ids(self, page_token: str) -> tuple[list[str], str]:
        self.list_tokens.append(page_token)
        return paged(self.done, page_token, self.page_size)

    def wait_for_position(self, position: int, timeout_s: float) -> bool:
        self.waits.append((position, timeout_s))
        return self.applied >= position


def store_of(n: int) -> dict[str, list[common_pb2.Appearance]]:
    return {f"v{k}": [appearance("inf_a", f"f{k}")] for k in range(n)}


def test_an_uninterrupted_previous_batch_opens_without_repair() -> None:
    identity, analytics = FakeIdentity(store_of(3)), FakeAnalytics(["v0", "v1", "v2"])
    assert batch.open_batch(identity, analytics, "w1") is None
    assert identity.calls == [] and analytics.waits == []


def test_an_interrupted_batch_triggers_a_repair_when_the_next_one_opens() -> None:
    identity = FakeIdentity(store_of(3))
    analytics = FakeAnalytics(["v0", "v1"])
    identity.open_batches["w1"] = "the batch that was killed"
    repaired = batch.open_batch(identity, analytics, "w1")
    assert repaired is not None and repaired.orphans == 1
    assert ("forget_video", "v2") in identity.calls
    assert identity.open_batches["w1"] != "the batch that was killed"


def test_the_repair_after_an_interrupted_batch_is_told_in_words_a_user_who_pressed_ctrl_c_can_read(caplog) -> None:
    # Was "the previous batch was interrupted: removed the faces of 0 unrecorded videos, re-published 5 videos",
    # a WARNING met by whoever ran the same command again to resume, as `run` told them to after Ctrl-C.
    identity = FakeIdentity(store_of(3))
    identity.open_batches["w1"] = "the batch that was stopped"
    batch.open_batch(identity, FakeAnalytics(["v0", "v1"]), "w1")
    identity.open_batches["w2"] = "the batch that was stopped"
    batch.open_batch(identity, FakeAnalytics(["v0", "v1"]), "w2")
    assert [r.getMessage() for r in caplog.records if r.name == "services.ingest.batch"] == [
        "resuming after an interrupted batch (a stop or a crash mid-job): 1 video analysed but not recorded will be "
        "analysed again; 2 videos' people sent to analytics again",
        "resuming after an interrupted batch (a stop or a crash mid-job): no video was left half-done; 2 videos' "
        "people sent to analytics again"]


def test_repair_forgets_the_videos_never_recorded_and_has_identity_publish_every_other() -> None:
    identity = FakeIdentity(store_of(5))
    analytics = FakeAnalytics(["v0", "v2", "v4"])
    repaired = batch.repair(identity, analytics)
    assert repaired.orphans == 2 and sorted(identity.videos) == ["v0", "v2", "v4"]
    assert identity.calls[-1] == ("recluster", ((), True, True))
    assert identity.published == [["v0", "v2"], ["v4"]]
    assert repaired.resync.sent_videos == 3 and repaired.resync.changed_videos == 3
    assert analytics.waits == [(identity.head, batch.JOB_WAIT_S)] and repaired.resync.caught_up


def test_repair_reads_both_lists_page_by_page_before_forgetting_anything() -> None:
    identity = FakeIdentity(store_of(7), page_size=3)
    analytics = FakeAnalytics(["v1", "v3"], page_size=1)
    batch.repair(identity, analytics)
    assert analytics.list_tokens == ["", "1"]
    lists = [k for k, (name, _) in enumerate(identity.calls) if name == "list_video_ids"]
    forgets = [k for k, (name, _) in enumerate(identity.calls) if name == "forget_video"]
    assert [identity.calls[k][1] for k in lists] == ["", "3", "6"]
    assert max(lists) < min(forgets), "every page is read before the first forget"
    assert sorted(identity.videos) == ["v1", "v3"]


def test_reconcile_waits_for_analytics_to_reach_the_position_of_the_last_change_identity_published() -> None:
    identity = FakeIdentity(store_of(6), page_size=2)
    identity.regroup = {f"v{k}": [appearance("inf_b", f"f{k}")] for k in range(5)}
    analytics = FakeAnalytics([f"v{k}" for k in range(6)])
    applied = batch.reconcile(identity, analytics, ["v0", "v4"])
    assert identity.calls == [("recluster", (("v0", "v4"), False, False))]
    assert identity.published == [["v0", "v1"], ["v2", "v3"], ["v4"]]
    assert analytics.waits == [(3, batch.JOB_WAIT_S)]
    assert applied == batch.Applied(influencers=3, changed_videos=5, sent_videos=5, fetched_crops=0, position=3,
                                    caught_up=True)


def test_a_reconcile_past_the_wait_says_analytics_is_still_catching_up() -> None:
    identity = FakeIdentity(store_of(2))
    identity.regroup = {"v0": [appearance("inf_b", "f0")]}
    analytics = FakeAnalytics(["v0", "v1"], applied=0)
    applied = batch.reconcile(identity, analytics, ["v0"], wait_s=0.5)
    assert not applied.caught_up and applied.position == 1
    assert analytics.waits == [(1, 0.5)]


def test_closing_a_batch_means_the_next_one_opens_without_repair() -> None:
    identity, analytics = FakeIdentity(store_of(1)), FakeAnalytics(["v0"])
    batch.open_batch(identity, analytics, "w1")
    batch.close_batch(identity, "w1")
    assert batch.open_batch(identity, analytics, "w1") is None


def test_a_reconcile_of_more_videos_than_identity_takes_in_one_call_is_sent_a_part_at_a_time_and_waits_once() -> None:
    # Identity refuses a Recluster naming more than MAX_RECLUSTER_VIDEOS videos: a job larger than that (its
    # INFLUENCERS_MAX_JOB_ROWS raised) would have its reconcile refused, and the job failed.
    identity = FakeIdentity(store_of(5), page_size=2)
    identity.regroup = {"v0": [appearance("inf_b", "f0")], "v3": [appearance("inf_b", "f3")]}
    analytics = FakeAnalytics([f"v{k}" for k in range(5)])
    applied = batch.reconcile(identity, analytics, ["v0", "v1", "v2", "v0", "v3", "v4"], most=2)
    assert [args[0] for _, args in identity.calls] == [("v0", "v1"), ("v2", "v3"), ("v4",)], "each video once"
    assert analytics.waits == [(identity.head, batch.JOB_WAIT_S)], "one wait, for the last part's position"
    assert applied.changed_videos == 2 and applied.position == identity.head


def test_a_video_that_two_parts_of_a_reconcile_change_counts_once_with_the_people_its_last_change_left() -> None:
    # Before, the parts' counts were summed: v0 and v3, changed by each of the three parts, were 6 videos changed
    # in a job of 5, and their one influencer 9 (each part's 3).
    identity = FakeIdentity(store_of(5), page_size=2)
    identity.regroup = {"v0": [appearance("inf_b", "f0")], "v3": [appearance("inf_b", "f3"), appearance("inf_c", "g")]}
    analytics = FakeAnalytics([f"v{k}" for k in range(5)])
    applied = batch.reconcile(identity, analytics, ["v0", "v1", "v2", "v3", "v4"], most=2)
    assert (applied.changed_videos, applied.sent_videos, applied.influencers) == (2, 2, 2)
