"""Ingest's batch protocol between identity (the face store) and analytics (the system of record).

A batch is bracketed by identity's OpenBatch/CloseBatch, per ingest worker. Opening a batch after one that
never closed repairs first: the faces of videos that analytics never recorded as done are forgotten, and
analytics gets every video's appearances again. After the videos, the batch reconciles: identity re-derives
the clusters around the processed videos and analytics replaces the appearances of the videos whose people
changed. Only then is the batch closed, so an interruption anywhere earlier is repaired by the next batch.

Nothing here holds a message proportional to the store: ids come in pages, re-clustering results come as
a stream of pages, and face crops travel by reference: analytics keeps the bytes it already has for a
face_ref, and the few it lacks are fetched from identity one at a time and sent one video at a time.

The two services are reached through the small ports below (gRPC adapters in `batch_grpc.py`), so the
protocol is tested with in-memory fakes and the CLI's recluster/merge/split/rename use the same calls.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from influencers.v1 import common_pb2, identity_pb2

log = logging.getLogger(__name__)

# A pager takes a page token ("" for the first page) and returns (items, next token; "" after the last).
Pager = Callable[[str], tuple[list[str], str]]


class IdentityPort(Protocol):
    def open_batch(self, batch: str, worker: str) -> bool:
        """Opens `worker`'s batch; True when that worker's previous batch never closed."""

    def close_batch(self, worker: str) -> None: ...

    def list_video_ids(self, page_token: str) -> tuple[list[str], str]:
        """One page of the ids of videos with faces in the store, and the next page's token."""

    def forget_video(self, video_id: str) -> None: ...

    def recluster(self, video_ids: Sequence[str], resync_only: bool) -> Iterable[identity_pb2.Changes]:
        """Pages of changed videos (totals in the first page); empty `video_ids`: the whole store."""

    def face_crop(self, face_ref: str) -> bytes | None:
        """The JPEG of one face; None when identity no longer has it."""


class AnalyticsPort(Protocol):
    def list_done_video_ids(self, page_token: str) -> tuple[list[str], str]:
        """One page of the ids of videos recorded as done, and the next page's token."""

    def replace_appearances(self, videos: Sequence[common_pb2.VideoAppearances], names: Mapping[str, str],
                            labels: Sequence[common_pb2.InfluencerLabel] = ()) -> list[str]:
        """Replaces these videos' appearances, then applies `labels` (set by hand: a name, "" clearing it,
        hidden, or erased); returns the face refs whose crop analytics lacks."""


@dataclass(frozen=True)
class Applied:
    """What one re-clustering (or resync) changed: influencers re-derived, videos whose people changed
    (both as identity counts them), videos sent to analytics, crops fetched from identity."""

    influencers: int = 0
    changed_videos: int = 0
    sent_videos: int = 0
    fetched_crops: int = 0

    def __add__(self, other: Applied) -> Applied:
        return Applied(self.influencers + other.influencers, self.changed_videos + other.changed_videos,
                       self.sent_videos + other.sent_videos, self.fetched_crops + other.fetched_crops)


@dataclass(frozen=True)
class Repair:
    """Result of repairing after an interrupted batch: orphaned videos forgotten, and the resync."""

    orphans: int
    resync: Applied


def open_batch(identity: IdentityPort, analytics: AnalyticsPort, worker: str) -> Repair | None:
    """Opens a batch for `worker`; repairs first when its previous batch was interrupted (returned)."""
    if not identity.open_batch(uuid.uuid4().hex, worker):
        return None
    repaired = repair(identity, analytics)
    log.warning("the previous batch was interrupted: removed the faces of %d unrecorded videos, re-synced %d "
                "videos", repaired.orphans, repaired.resync.sent_videos)
    return repaired


def close_batch(identity: IdentityPort, worker: str) -> None:
    """Marks `worker`'s batch complete. Call only once the batch has reconciled."""
    identity.close_batch(worker)


def repair(identity: IdentityPort, analytics: AnalyticsPort) -> Repair:
    """Brings the two stores back in step after an interrupted batch: forgets the faces of videos that
    analytics never recorded as done (orphans), then resends every video's appearances to analytics."""
    done = set(all_pages(analytics.list_done_video_ids))
    # Every page is read before anything is forgotten: forgetting while paging could shift the pages.
    orphans = [video_id for video_id in all_pages(identity.list_video_ids) if video_id not in done]
    for video_id in orphans:
        identity.forget_video(video_id)
    return Repair(len(orphans), apply_stream(identity, analytics, identity.recluster((), resync_only=True)))


def reconcile(identity: IdentityPort, analytics: AnalyticsPort, video_ids: Sequence[str] = ()) -> Applied:
    """Re-derives the clusters around `video_ids` (empty: the whole store) and has analytics follow."""
    return apply_stream(identity, analytics, identity.recluster(list(video_ids), resync_only=False))


def apply_stream(identity: IdentityPort, analytics: AnalyticsPort,
                 pages: Iterable[identity_pb2.Changes]) -> Applied:
    """Sends each page of a re-clustering to analytics as it arrives; totals from the first page."""
    total = Applied()
    for k, page in enumerate(pages):
        applied = apply_page(identity, analytics, page)
        total += applied if k == 0 else Applied(sent_videos=applied.sent_videos,
                                                fetched_crops=applied.fetched_crops)
    return total


def apply_page(identity: IdentityPort, analytics: AnalyticsPort, page: identity_pb2.Changes) -> Applied:
    """Replaces the appearances of one page's videos (and upserts its display names, then applies its labels:
    names set or cleared by hand, hidden, erased) in analytics. Videos whose crops analytics lacks are sent
    again, one at a time, with the crops fetched from identity."""
    names = {k: v for k, v in page.names.items() if v}
    labels = list(page.labels)
    if not page.videos and not names and not labels:
        return Applied(page.influencers, page.changed_videos)
    missing = set(analytics.replace_appearances(list(page.videos), names, labels))
    fetched = 0
    for video in page.videos:
        refs = {a.face_ref for a in video.appearances if a.face_ref in missing and not a.best_face}
        if not refs:
            continue
        filled = common_pb2.VideoAppearances()
        filled.CopyFrom(video)
        for appearance in filled.appearances:
            if appearance.face_ref in refs:
                appearance.best_face = identity.face_crop(appearance.face_ref) or b""
                fetched += 1
        analytics.replace_appearances([filled], {})
    return Applied(page.influencers, page.changed_videos, len(page.videos), fetched)


def all_pages(pager: Pager) -> Iterator[str]:
    """Every item of a paged list, page by page."""
    token = ""
    while True:
        items, token = pager(token)
        yield from items
        if not token:
            return
