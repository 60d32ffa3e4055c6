"""Ingest's batch protocol with identity (the face store, owner of "who is in which video").

A batch is bracketed by identity's OpenBatch/CloseBatch, per ingest worker. Opening a batch after one that
never closed repairs first: the faces of videos that analytics never recorded as done are forgotten, and
identity publishes the current appearances of every video into its change feed (a write that reached the
face store but not the feed is published again). After the videos, the batch reconciles: identity re-derives
the clusters around the processed videos and publishes the videos whose people changed. Only then is the
batch closed, so an interruption anywhere earlier is repaired by the next batch.

Analytics follows identity's feed by itself (services/analytics/feed.py): nothing here sends it appearances.
The batch waits, bounded, until analytics has applied the feed up to the position identity answered with, so
that a job that ends has its videos in analytics (read-your-writes for whoever follows the job and exports).

The two services are reached through the small ports below (gRPC adapters in services/common/clients.py),
so the protocol is tested with in-memory fakes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from influencers.v1 import identity_pb2
from services.common.clients import Drained, drain
from services.common.recluster_limits import MAX_RECLUSTER_VIDEOS

log = logging.getLogger(__name__)

# How long a batch waits at its end for analytics to apply identity's feed (seconds): the job's videos are in
# analytics when it ends, unless analytics is this far behind (then the job ends and says so in the log).
JOB_WAIT_S = 600.0

# A pager takes a page token ("" for the first page) and returns (items, next token; "" after the last).
Pager = Callable[[str], tuple[list[str], str]]


class IdentityPort(Protocol):
    def open_batch(self, batch: str, worker: str) -> bool:
        """Opens `worker`'s batch; True when that worker's previous batch never closed."""

    def close_batch(self, worker: str) -> None: ...

    def list_video_ids(self, page_token: str) -> tuple[list[str], str]:
        """One page of the ids of videos with faces in the store, and the next page's token."""

    def forget_video(self, video_id: str) -> int:
        """Forgets the video's faces; returns the feed position of the change."""

    def recluster(self, video_ids: Sequence[str], resync_only: bool, publish: bool = False
                  ) -> Iterable[identity_pb2.Changes]:
        """Pages of changed videos (totals in the first page, the feed position in the last); empty
        `video_ids`: the whole store. resync_only + publish: every video, published into the feed."""


class AnalyticsPort(Protocol):
    def list_done_video_ids(self, page_token: str) -> tuple[list[str], str]:
        """One page of the ids of videos recorded as done, and the next page's token."""

    def wait_for_position(self, position: int, timeout_s: float) -> bool:
        """True once analytics has applied identity's feed up to `position`; False after `timeout_s`."""


@dataclass(frozen=True)
class Applied:
    """What one re-clustering (or resync) changed: influencers re-derived, videos whose people changed (both
    as identity counts them), videos identity published; the feed position of its last change, and whether
    analytics had applied it within the wait."""

    influencers: int = 0
    changed_videos: int = 0
    sent_videos: int = 0
    fetched_crops: int = 0  # always 0: analytics fetches the crops it lacks itself (kept for old callers)
    position: int = 0
    caught_up: bool = True


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
    log.warning("resuming after an interrupted batch (a stop or a crash mid-job): %s; %d video%s' people sent to "
                "analytics again", _forgotten(repaired.orphans), repaired.resync.sent_videos,
                "" if repaired.resync.sent_videos == 1 else "s")
    return repaired


def close_batch(identity: IdentityPort, worker: str) -> None:
    """Marks `worker`'s batch complete. Call only once the batch has reconciled."""
    identity.close_batch(worker)


def _forgotten(orphans: int) -> str:
    """The repair's orphans in words: videos analysed that analytics never recorded, analysed again."""
    if not orphans:
        return "no video was left half-done"
    return f"{orphans} video{'' if orphans == 1 else 's'} analysed but not recorded will be analysed again"


def repair(identity: IdentityPort, analytics: AnalyticsPort, wait_s: float = JOB_WAIT_S) -> Repair:
    """Brings the two stores back in step after an interrupted batch: forgets the faces of videos that
    analytics never recorded as done (orphans), then has identity publish every video's appearances into its
    feed, and waits (at most `wait_s`) for analytics to apply them."""
    done = set(all_pages(analytics.list_done_video_ids))
    # Every page is read before anything is forgotten: forgetting while paging could shift the pages.
    orphans = [video_id for video_id in all_pages(identity.list_video_ids) if video_id not in done]
    for video_id in orphans:
        identity.forget_video(video_id)
    return Repair(len(orphans), _published(analytics, drain(identity.recluster((), resync_only=True, publish=True)),
                                           wait_s))


def reconcile(identity: IdentityPort, analytics: AnalyticsPort, video_ids: Sequence[str] = (),
              wait_s: float = JOB_WAIT_S, most: int = MAX_RECLUSTER_VIDEOS) -> Applied:
    """Re-derives the clusters around `video_ids` (empty: the whole store), `most` videos a call (identity's
    limit); identity publishes the changes, and this waits (at most `wait_s`) until analytics has applied them
    and everything before. A job's videos past `most` are re-derived a part at a time, and counted as one call
    would count them (_drained_parts)."""
    ids = list(dict.fromkeys(video_ids))
    if len(ids) <= most:
        return _published(analytics, drain(identity.recluster(ids, resync_only=False)), wait_s)
    parts = (identity.recluster(ids[k:k + most], resync_only=False) for k in range(0, len(ids), most))
    return _published(analytics, _drained_parts(parts), wait_s)


def _drained_parts(parts: Iterable[Iterable[identity_pb2.Changes]]) -> Drained:
    """The Recluster streams of a reconcile's parts read to their end, counted as one call counts: each video
    changed once however many parts changed it, and the influencers of the videos as their last change left
    them. Before, the parts' counts were summed: a video that two parts changed counted twice in the job's
    videos changed, more than the job had."""
    people: dict[str, set[str]] = {}
    position = 0
    for pages in parts:
        for page in pages:
            for changed in page.videos:
                people[changed.video_id] = {a.influencer_id for a in changed.appearances}
            position = max(position, page.feed_position)
    return Drained(len(set().union(*people.values())), len(people), len(people), position)


def _published(analytics: AnalyticsPort, got: Drained, wait_s: float) -> Applied:
    caught_up = analytics.wait_for_position(got.position, wait_s)
    if not caught_up:
        log.warning("analytics has not applied identity's feed up to position %d after %.0f s: still catching up",
                    got.position, wait_s)
    return Applied(got.influencers, got.changed_videos, got.videos, 0, got.position, caught_up)


def all_pages(pager: Pager) -> Iterator[str]:
    """Every item of a paged list, page by page."""
    token = ""
    while True:
        items, token = pager(token)
        yield from items
        if not token:
            return
