"""Fakes of identity's side of the change feed (the FeedSource port), shared by the follower's tests."""

from __future__ import annotations

from collections.abc import Iterator

from influencers.v1 import common_pb2, identity_pb2
from services.analytics.feed import TooFarBehind
from services.common.protoconv import duration

V1, V2, V3 = "a" * 16, "b" * 16, "c" * 16
ANN, BOB = "inf_" + "a" * 10, "inf_" + "b" * 10


def appearance(influencer_id: str, face_ref: str = "") -> common_pb2.Appearance:
    return common_pb2.Appearance(influencer_id=influencer_id, faces=2, first_seen=duration(1.0),
                                 last_seen=duration(2.0), face_ref=face_ref)


def change(*videos: tuple[str, list[common_pb2.Appearance]], names: dict[str, str] | None = None,
           labels: list[common_pb2.InfluencerLabel] = (), forgotten: list[str] = ()) -> identity_pb2.Change:
    return identity_pb2.Change(videos=[common_pb2.VideoAppearances(video_id=v, appearances=a) for v, a in videos],
                               names=names or {}, labels=labels, forgotten_video_ids=forgotten)


class FakeIdentity:
    """A feed (changes get positions 1, 2, ...), a retained tail starting after `trimmed`, a snapshot of the
    current appearances, and crops by reference."""

    def __init__(self) -> None:
        self.changes: list[identity_pb2.Change] = []
        self.trimmed = 0
        self.snapshot_videos: dict[str, list[common_pb2.Appearance]] = {}
        self.crops: dict[str, bytes] = {}
        self.reads: list[int] = []
        self.crop_requests: list[str] = []
        self.replay = False  # send every change again, whatever the position asked for
        self.feed_id = "feed-1"  # the feed's identity (a reset store's feed has another)
        self.digests = True  # False: an identity of the release before digests
        self._written = 0  # entries written, ever: a restored feed's entries get digests never given before

    def publish(self, *changes: identity_pb2.Change) -> int:
        for c in changes:
            self._written += 1
            c.position = len(self.changes) + 1
            c.digest = f"written-{self._written}"  # as identity's: another for each entry written
            self.changes.append(c)
        return len(self.changes)

    def restore(self, position: int) -> None:
        """Identity's store restored from a backup taken at `position`: the same feed id, the entries after it gone."""
        del self.changes[position:]

    def digest(self, position: int) -> str:
        return self.changes[position - 1].digest if self.digests and 0 < position <= len(self.changes) else ""

    def list_changes(self, after: int, page_size: int) -> tuple[list[identity_pb2.Change], int, str, str]:
        self.reads.append(after)
        if after < self.trimmed:
            raise TooFarBehind(f"{after} < {self.trimmed}")
        start = 0 if self.replay else after
        page = [self._sent(c) for c in self.changes[start:start + page_size]]
        return page, len(self.changes), self.feed_id, self.digest(after)

    def _sent(self, entry: identity_pb2.Change) -> identity_pb2.Change:
        sent = identity_pb2.Change()
        sent.CopyFrom(entry)
        if not self.digests:
            sent.digest = ""
        return sent

    def snapshot(self) -> Iterator[identity_pb2.Changes]:
        ids = sorted(self.snapshot_videos)
        for k in range(0, max(len(ids), 1), 1):  # a page per video
            page = identity_pb2.Changes(videos=[common_pb2.VideoAppearances(
                video_id=v, appearances=self.snapshot_videos[v]) for v in ids[k:k + 1]], names={ANN: "Ann"})
            if k == 0:
                page.feed_position = len(self.changes)
                page.feed_id = self.feed_id
                page.feed_digest = self.digest(len(self.changes))
            yield page

    def face_crop(self, face_ref: str) -> bytes | None:
        self.crop_requests.append(face_ref)
        return self.crops.get(face_ref)
