"""The batch protocol (services/ingest/batch.py) against in-memory fakes of its two ports: pages in, pages
out, crops by reference, and repair after an interrupted batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from influencers.v1 import common_pb2, identity_pb2
from services.ingest import batch


def appearance(influencer_id: str, face_ref: str, crop: bytes = b"") -> common_pb2.Appearance:
    return common_pb2.Appearance(influencer_id=influencer_id, faces=2, face_ref=face_ref, best_face=crop)


def video(video_id: str, *appearances: common_pb2.Appearance) -> common_pb2.VideoAppearances:
    return common_pb2.VideoAppearances(video_id=video_id, appearances=appearances)


def paged(items: list[str], token: str, size: int) -> tuple[list[str], str]:
    start = int(token or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")


class FakeIdentity:
    """A face store with `videos` (id -> appearances), crops by ref, and a batch log per worker. Recluster
    sends `page_size` videos a message; `regroup` is what a re-clustering changes (video -> appearances)."""

    def __init__(self, videos: dict[str, list[common_pb2.Appearance]], crops: dict[str, bytes],
                 page_size: int = 2) -> None:
        self.videos = videos
        self.crops = crops
        self.page_size = page_size
        self.regroup: dict[str, list[common_pb2.Appearance]] = {}
        self.open_batches: dict[str, str] = {}
        self.calls: list[tuple[str, object]] = []
        self.crop_requests: list[str] = []

    def open_batch(self, batch_id: str, worker: str) -> bool:
        interrupted = worker in self.open_batches
        self.open_batches[worker] = batch_id
        return interrupted

    def close_batch(self, worker: str) -> None:
        del self.open_batches[worker]

    def list_video_ids(self, page_token: str) -> tuple[list[str], str]:
        self.calls.append(("list_video_ids", page_token))
        return paged(sorted(self.videos), page_token, self.page_size)

    def forget_video(self, video_id: str) -> None:
        self.calls.append(("forget_video", video_id))
        del self.videos[video_id]

    def recluster(self, video_ids: Sequence[str], resync_only: bool) -> Iterator[identity_pb2.Changes]:
        self.calls.append(("recluster", (tuple(video_ids), resync_only)))
        if not resync_only:
            self.videos.update(self.regroup)
        changed = sorted(self.videos) if resync_only else sorted(self.regroup)
        for k in range(0, max(len(changed), 1), self.page_size):
            page = identity_pb2.Changes(
                videos=[video(v, *self.videos[v]) for v in changed[k:k + self.page_size]],
                names={"inf_a": "Ann", "inf_b": ""})
            if k == 0:
                page.influencers, page.changed_videos = 3, len(changed)
            yield page

    def face_crop(self, face_ref: str) -> bytes | None:
        self.crop_requests.append(face_ref)
        return self.crops.get(face_ref)


class FakeAnalytics:
    """A system of record: done video ids, appearances by video, names, and the crops it has by ref."""

    def __init__(self, done: list[str], crops: dict[str, bytes] | None = None, page_size: int = 2) -> None:
        self.done = done
        self.crops = dict(crops or {})
        self.page_size = page_size
        self.appearances: dict[str, list[common_pb2.Appearance]] = {}
        self.names: dict[str, str] = {}
        self.messages: list[list[str]] = []  # video ids of each ReplaceAppearances call
        self.list_tokens: list[str] = []

    def list_done_video_ids(self, page_token: str) -> tuple[list[str], str]:
        self.list_tokens.append(page_token)
        return paged(self.done, page_token, self.page_size)

    def replace_appearances(self, videos: Sequence[common_pb2.VideoAppearances],
                            names: Mapping[str, str], labels: Sequence[common_pb2.InfluencerLabel] = ()) -> list[str]:
        self.messages.append([v.video_id for v in videos])
        self.names.update(names)
        missing = []
        for v in videos:
            kept = []
            for a in v.appearances:
                a = common_pb2.Appearance(influencer_id=a.influencer_id, face_ref=a.face_ref,
                                          best_face=a.best_face or self.crops.get(a.face_ref, b""))
                if a.best_face:
                    self.crops[a.face_ref] = a.best_face
                else:
                    missing.append(a.face_ref)
                kept.append(a)
            self.appearances[v.video_id] = kept
        return missing


def store_of(n: int) -> dict[str, list[common_pb2.Appearance]]:
    return {f"v{k}": [appearance("inf_a", f"f{k}")] for k in range(n)}


def test_an_uninterrupted_previous_batch_opens_without_repair() -> None:
    identity, analytics = FakeIdentity(store_of(3), {}), FakeAnalytics(["v0", "v1", "v2"])
    assert batch.open_batch(identity, analytics, "w1") is None
    assert identity.calls == [] and analytics.messages == []


def test_an_interrupted_batch_triggers_a_repair_when_the_next_one_opens() -> None:
    identity = FakeIdentity(store_of(3), {"f2": b"crop2"})
    analytics = FakeAnalytics(["v0", "v1"], crops={"f0": b"crop0", "f1": b"crop1"})
    identity.open_batches["w1"] = "the batch that was killed"
    repaired = batch.open_batch(identity, analytics, "w1")
    assert repaired is not None and repaired.orphans == 1
    assert ("forget_video", "v2") in identity.calls
    assert identity.open_batches["w1"] != "the batch that was killed"


def test_repair_forgets_the_faces_of_videos_never_recorded_and_resyncs_every_other() -> None:
    identity = FakeIdentity(store_of(5), {})
    analytics = FakeAnalytics(["v0", "v2", "v4"], crops={f"f{k}": b"c" for k in range(5)})
    repaired = batch.repair(identity, analytics)
    assert repaired.orphans == 2 and sorted(identity.videos) == ["v0", "v2", "v4"]
    assert identity.calls[-1] == ("recluster", ((), True))
    assert sorted(analytics.appearances) == ["v0", "v2", "v4"]
    assert repaired.resync.sent_videos == 3 and repaired.resync.changed_videos == 3


def test_repair_reads_both_lists_page_by_page_before_forgetting_anything() -> None:
    identity = FakeIdentity(store_of(7), {}, page_size=3)
    analytics = FakeAnalytics(["v1", "v3"], crops={f"f{k}": b"c" for k in range(7)}, page_size=1)
    batch.repair(identity, analytics)
    assert analytics.list_tokens == ["", "1"]
    lists = [k for k, (name, _) in enumerate(identity.calls) if name == "list_video_ids"]
    forgets = [k for k, (name, _) in enumerate(identity.calls) if name == "forget_video"]
    assert [identity.calls[k][1] for k in lists] == ["", "3", "6"]
    assert max(lists) < min(forgets), "every page is read before the first forget"
    assert sorted(identity.videos) == ["v1", "v3"]


def test_reconcile_sends_each_page_of_the_recluster_stream_as_its_own_message() -> None:
    identity = FakeIdentity(store_of(6), {}, page_size=2)
    identity.regroup = {f"v{k}": [appearance("inf_b", f"f{k}")] for k in range(5)}
    analytics = FakeAnalytics([f"v{k}" for k in range(6)], crops={f"f{k}": b"c" for k in range(6)})
    applied = batch.reconcile(identity, analytics, ["v0", "v4"])
    assert identity.calls == [("recluster", (("v0", "v4"), False))]
    assert analytics.messages == [["v0", "v1"], ["v2", "v3"], ["v4"]]
    assert applied == batch.Applied(influencers=3, changed_videos=5, sent_videos=5, fetched_crops=0)
    assert {a.influencer_id for k in range(5) for a in analytics.appearances[f"v{k}"]} == {"inf_b"}


def test_display_names_go_with_the_pages_and_empty_ones_are_left_out() -> None:
    identity = FakeIdentity(store_of(2), {})
    identity.regroup = {"v0": [appearance("inf_a", "f0")]}
    analytics = FakeAnalytics(["v0", "v1"], crops={"f0": b"c"})
    batch.reconcile(identity, analytics)
    assert analytics.names == {"inf_a": "Ann"}


def test_crops_analytics_lacks_are_fetched_one_at_a_time_and_sent_one_video_at_a_time() -> None:
    identity = FakeIdentity(store_of(4), {"f1": b"crop1", "f3": b"crop3"}, page_size=4)
    identity.regroup = {f"v{k}": [appearance("inf_b", f"f{k}")] for k in range(4)}
    analytics = FakeAnalytics([f"v{k}" for k in range(4)], crops={"f0": b"crop0", "f2": b"crop2"})
    applied = batch.reconcile(identity, analytics, ["v0"])
    assert identity.crop_requests == ["f1", "f3"]
    assert analytics.messages == [["v0", "v1", "v2", "v3"], ["v1"], ["v3"]]
    assert [a.best_face for k in range(4) for a in analytics.appearances[f"v{k}"]] == [
        b"crop0", b"crop1", b"crop2", b"crop3"]
    assert applied.fetched_crops == 2


def test_a_crop_identity_no_longer_has_leaves_the_appearance_without_a_picture() -> None:
    identity = FakeIdentity(store_of(1), {}, page_size=4)
    identity.regroup = {"v0": [appearance("inf_b", "gone")]}
    analytics = FakeAnalytics(["v0"])
    batch.reconcile(identity, analytics, ["v0"])
    assert identity.crop_requests == ["gone"]
    assert analytics.appearances["v0"][0].influencer_id == "inf_b"


def test_a_manual_correction_is_applied_as_one_page() -> None:
    identity = FakeIdentity({}, {"f9": b"crop9"})
    analytics = FakeAnalytics(["v9"])
    page = identity_pb2.Changes(changed_videos=1, videos=[video("v9", appearance("inf_c", "f9"))],
                                          names={"inf_c": "Cy"})
    applied = batch.apply_page(identity, analytics, page)
    assert applied.changed_videos == 1 and applied.fetched_crops == 1
    assert analytics.appearances["v9"][0].best_face == b"crop9" and analytics.names == {"inf_c": "Cy"}


def test_closing_a_batch_means_the_next_one_opens_without_repair() -> None:
    identity, analytics = FakeIdentity(store_of(1), {}), FakeAnalytics(["v0"])
    batch.open_batch(identity, analytics, "w1")
    batch.close_batch(identity, "w1")
    assert batch.open_batch(identity, analytics, "w1") is None
