"""Analytics follows identity's change feed by itself: the one way "who is in which video" gets here.

`Follower.step` reads the changes after the position stored with the rows (store.feed_position) and applies
each in one transaction that also moves that position (store.apply_changes: a replayed position changes
nothing), then fetches the crops analytics lacks from identity (by face_ref) and fills them in. A crash
anywhere resumes from the stored position. Told it is too far behind (the feed's retained tail starts after
its position), it resyncs: a snapshot's pages a page at a time, then end_snapshot at the snapshot's head.

Every page of changes names the feed it comes from (feed_id, made with identity's store). The id is stored
beside the position, in the transaction that moves it. A page from another feed than the stored id's (identity's
store was reset or replaced: its positions start again at 1, and may have grown past the stored one already)
is not applied: the follower resyncs, and end_snapshot stores the snapshot's position and feed id together. A
store without an id (nothing applied yet, or one from before feed ids) takes the first id it meets when its
position is 0, and resyncs once otherwise. An identity of an older release sends no id: followed as before.

A feed restored from a backup keeps its id, and once it has grown past the stored position again its head
no longer tells either. So the digest of the last change applied (Change.digest) is stored with the position,
and each page carries the digest of the feed's entry at that position (after_digest): another one means the
changes after it are not the sequel of those applied here, and the follower resyncs. Either side without one (a
store from before digests, an older identity) is followed as before; identity keeps the digest of its newest
trimmed entry, and sends it for that position (an entry trimmed before it kept them: OUT_OF_RANGE, a resync).

`FollowerThread` runs it in the analytics process while this replica holds the leadership (`Leadership`): with
PostgreSQL a session-level advisory lock on a dedicated connection, so exactly one replica applies the feed
and another takes over within seconds when the holder dies (its connection closes, the lock goes with it);
with SQLite the one process applies. Idle, it polls every IDLE_S seconds, so a change is applied well under
a second after identity wrote it; where identity runs in the same process (`influencers run`, `serve`), its feed
wakes the thread at each append (`FollowerThread.wake`) and the poll is only a fallback (WOKEN_IDLE_S).

Identity is reached through the `FeedSource` port (gRPC adapter in feed_grpc.py; fakes in the tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from influencers.v1 import common_pb2, identity_pb2
from services.analytics.audit import AuditRow, row_from_entry
from services.analytics.records import AppearanceRow, appearance_from_proto
from services.analytics.store import Label
from services.common import tracing
from services.common.boundary import is_video_id, shown
from services.common.call_names import failed_call
from services.common.crash import crash_point
from services.common.doorbell import Doorbell
from services.common.metrics import count_feed_changes, count_feed_resync
from services.common.protoconv import change_kind_word
from services.common.streak import FailureStreak

log = logging.getLogger(__name__)

PAGE = 100  # changes read at a time
IDLE_S = 0.1  # seconds between two reads of an idle feed
# ... when identity's feed wakes the thread at each append (one process): the idle reads of a 0.1 s poll (each a
# gRPC call and four SQL queries) cost the run's process ~3 CPU s a dev run, and found nothing new.
WOKEN_IDLE_S = 1.0
RETRY_S = 1.0  # seconds between two tries for the leadership, or after identity failed
CHECK_S = 1.0  # seconds between two checks that the leadership is still held
LEADER_LOCK = 0xA_FEED  # pg_try_advisory_lock key of the replica applying the feed


class TooFarBehind(Exception):
    """The feed no longer holds the changes after the follower's position."""


class FeedSource(Protocol):
    """Identity's side of the feed."""

    def list_changes(self, after: int, page_size: int) -> tuple[list[identity_pb2.Change], int, str, str]:
        """Changes after position `after`, oldest first (each with its digest), the head position, the feed's
        id and the digest of its entry at `after` (each "" from an identity of an older release; the digest
        also at 0 or when that entry was trimmed); TooFarBehind when the feed's retained tail starts after
        `after`."""

    def snapshot(self) -> Iterable[identity_pb2.Changes]:
        """Pages of every video's current appearances; the first carries the head position they are
        consistent with (feed_position), the id of that feed (feed_id) and the digest of its entry there
        (feed_digest)."""

    def face_crop(self, face_ref: str) -> bytes | None:
        """The JPEG of one face; None when identity no longer has it."""


class FeedStore(Protocol):
    """The analytics store's side (feed-spec.md)."""

    def feed_position(self) -> int: ...

    def feed_id(self) -> str: ...

    def feed_digest(self) -> str: ...

    def apply_changes(self, position: int, videos: dict[str, list[AppearanceRow]], names: dict[str, str],
                      labels: Iterable[Label] = (), forgotten: Iterable[str] = (), *, snapshot: bool = False,
                      audit: AuditRow | None = None, reposts: dict[str, str] | None = None,
                      feed_id: str = "", digest: str = "") -> list[str]: ...

    def end_snapshot(self, position: int, video_ids: Iterable[str], feed_id: str = "", digest: str = "") -> None: ...

    def fill_crops(self, crops: dict[str, bytes]) -> int: ...

    def video_frame(self) -> pd.DataFrame:
        """Done videos, one row per video id (column video_id among others)."""

    def missing_face_refs(self, video_ids: Iterable[str]) -> list[str]: ...


def _videos(videos: Iterable[common_pb2.VideoAppearances]) -> dict[str, list[AppearanceRow]]:
    return {v.video_id: [appearance_from_proto(v.video_id, a) for a in v.appearances] for v in videos
            if _is_ours(v.video_id)}


def _reposts(videos: Iterable[common_pb2.VideoAppearances]) -> dict[str, str]:
    """Video id -> UTC date of the erasure of a person seen again in it (a repost), for flagged videos."""
    return {v.video_id: v.erased_person_utc for v in videos if v.erased_person_utc and _is_ours(v.video_id)}


def _forgotten(video_ids: Iterable[str]) -> list[str]:
    return [v for v in video_ids if _is_ours(v)]


def _is_ours(video_id: str) -> bool:
    """Whether `video_id` can be a video of analytics (16 hex digits, as ingest makes them). Identity takes any
    id of letters, digits, _ and - from a caller (ForgetVideo, Recluster, AnalyzeVideo), and a change naming
    one cannot be stored here: applied, it failed the whole change, again every second, and analytics
    followed no change after it. It is left out of the change instead, with a warning."""
    if is_video_id(video_id):
        return True
    log.warning("identity's feed names video %s, which is no video id (16 hex digits): left out", shown(video_id))
    return False


def _labels(labels: Iterable[common_pb2.InfluencerLabel]) -> list[Label]:
    return [Label(x.influencer_id, x.name, x.hidden, x.deleted, x.erased_key) for x in labels]


class Follower:
    """Applies identity's feed to `store`; `head` is the newest position identity last reported."""

    def __init__(self, source: FeedSource, store: FeedStore, page_size: int = PAGE) -> None:
        self.source = source
        self.store = store
        self.page_size = page_size
        self.head = 0
        self.resyncs = 0
        self.resync_pages = 0  # pages the resync under way has applied (0: none under way); a gauge
        self.crops_fetched = 0

    def lag(self) -> int:
        """Changes identity has that analytics has not applied (as of the last read)."""
        return max(0, self.head - self.store.feed_position())

    def step(self) -> int:
        """Applies the next page of changes (resyncs first when too far behind); returns how many."""
        position = self.store.feed_position()
        try:
            changes, head, feed_id, at = self.source.list_changes(position, self.page_size)
        except TooFarBehind:
            log.warning("analytics is too far behind identity's feed (at position %d): resyncing", position)
            self.resync()
            return 0
        if reason := self._another_feed(position, feed_id):
            log.warning("%s: resyncing", reason)
            self.resync()
            return 0
        if head < position:  # identity's feed starts again below what was applied here: its store was reset
            log.warning("identity's feed head %d is behind analytics' position %d: resyncing", head, position)
            self.resync()
            return 0
        if reason := self._another_change(position, at):
            log.warning("%s: resyncing", reason)
            self.resync()
            return 0
        self.head = head
        for change in changes:
            # In the trace of identity's write (a video's assign, a correction): the video's trace goes on to
            # the moment the report shows it. The polls that find nothing are not traced.
            with tracing.span_in("analytics", "apply", change.traceparent, {
                    "influencers.feed_position": change.position, "influencers.videos": len(change.videos),
                    "influencers.change_kind": change_kind_word(change.kind)}):
                missing = self.store.apply_changes(change.position, _videos(change.videos), dict(change.names),
                                                   _labels(change.labels), _forgotten(change.forgotten_video_ids),
                                                   audit=row_from_entry(change.audit),
                                                   reposts=_reposts(change.videos), feed_id=feed_id,
                                                   digest=change.digest)
                crash_point("follow:applied")  # a change and its position stored, its crops not yet
                self._fill(missing)
        if changes:
            count_feed_changes(len(changes))
        return len(changes)

    def _another_feed(self, position: int, feed_id: str) -> str:
        """Why the page of feed `feed_id` cannot follow what the store applied up to `position` ("": it can)."""
        stored = self.store.feed_id()
        if not feed_id or feed_id == stored or (not stored and position == 0):
            return ""
        if not stored:
            return (f"analytics holds position {position} of identity's feed from before feed ids, now feed "
                    f"{shown(feed_id)}")
        return (f"identity's feed is now {shown(feed_id)}, analytics holds position {position} of feed "
                f"{shown(stored)} (identity's store was reset or replaced)")

    def _another_change(self, position: int, at: str) -> str:
        """Why the feed's entry at `position`, of digest `at`, is not the change applied here ("": it may be).
        A feed restored from a backup keeps its id and, once it has grown past `position` again, its head;
        only the entry there tells that the changes after it are not the sequel of those applied here. No
        digest on either side (a store from before digests, an older identity): as before. Identity sends the
        digest of an entry trimmed at `position` too (services/identity/feed.py ChangeFeed.read_page)."""
        stored = self.store.feed_digest()
        if not stored or not at or stored == at:
            return ""
        return (f"identity's feed holds another change at position {position} (digest {shown(at)}) than the one "
                f"applied here (digest {shown(stored)}): it was restored from a backup taken before it")

    def catch_up(self) -> int:
        """Steps until the head is reached; returns the changes applied."""
        total = 0
        while n := self.step():
            total += n
        return total

    def resync(self) -> None:
        """Rebuilds the appearances from a snapshot, a page at a time, then goes on from its head."""
        head = 0
        feed_id = at = ""
        seen: list[str] = []
        # The pages count as the resync's progress while it lasts (InfluencersFeedStalled): the position moves
        # only at its end. Back to 0 when it ends or fails, so that a resync started again shows as a fall.
        self.resync_pages = 0
        try:
            for k, page in enumerate(self.source.snapshot()):
                if k == 0:
                    head, feed_id, at = page.feed_position, page.feed_id, page.feed_digest
                missing = self.store.apply_changes(head, _videos(page.videos), dict(page.names),
                                                   _labels(page.labels), snapshot=True, reposts=_reposts(page.videos))
                crash_point("resync:page")  # a page stored, its crops and the position not yet
                seen.extend(v.video_id for v in page.videos)
                self._fill(missing)
                self.resync_pages += 1
            crash_point("resync:pages")  # every page and crop stored, the position and the stale videos' drop not yet
            self.store.end_snapshot(head, seen, feed_id, at)  # the position, the feed and the change there, together
            crash_point("resync:ended")
        finally:
            self.resync_pages = 0
        self.head = head
        self.resyncs += 1
        count_feed_resync()
        log.info("resynced %d videos from identity's snapshot at position %d", len(seen), head)

    def fill_missing_crops(self) -> None:
        """Fetches every crop still missing (a follower killed between applying a change and fetching its
        crops leaves them so); run once when a replica starts applying the feed."""
        ids = [str(v) for v in self.store.video_frame()["video_id"]]
        for start in range(0, len(ids), 500):
            self._fill(self.store.missing_face_refs(ids[start:start + 500]))

    def _fill(self, refs: list[str]) -> None:
        """Fetches the crops of `refs` from identity and fills them in (a face identity no longer has stays
        without a picture)."""
        crops = {}
        for ref in refs:
            jpeg = self.source.face_crop(ref)
            if jpeg:
                crops[ref] = jpeg
        if crops:
            self.store.fill_crops(crops)
            self.crops_fetched += len(crops)


class Leadership(Protocol):
    """Who applies the feed among the analytics replicas."""

    def acquire(self) -> bool:
        """True when this replica holds (or now took) the leadership."""

    def held(self) -> bool:
        """Still held (a closed connection loses it)."""

    def release(self) -> None: ...


class SoleLeader:
    """SQLite: one process, always the one applying."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None


class AdvisoryLock:
    """PostgreSQL: a session-level pg_try_advisory_lock held on a dedicated connection of `engine`. The
    server releases it when that connection closes, so a replica that dies loses it at once (a killed
    process) or when the server notices the broken connection (TCP keepalive)."""

    def __init__(self, engine: Engine, key: int = LEADER_LOCK) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None
        self._unreachable = FailureStreak()  # tried every second by each replica: a line a minute, not a second

    def acquire(self) -> bool:
        if self._conn is not None and self.held():
            return True
        try:
            conn = self.engine.connect()
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.key))).scalar())
            conn.commit()  # the lock is the session's, not the transaction's: it outlives this commit
        except sa.exc.SQLAlchemyError as exc:
            if self._unreachable.failed():
                reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
                log.warning("cannot reach the database for the feed leadership (try %d): %s",
                            self._unreachable.failures, reason)
            return False
        if failures := self._unreachable.succeeded():
            log.info("reached the database for the feed leadership again after %d failed tries", failures)
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.select(1)).scalar()
            self._conn.commit()
            return True
        except sa.exc.SQLAlchemyError:
            self.release()
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # closes the session itself, not back to the pool: the lock goes with it
                conn.close()
            except sa.exc.SQLAlchemyError:
                pass


class FollowerThread:
    """Runs `follower` on a daemon thread while `leadership` is held; `stop()` ends it."""

    def __init__(self, follower: Follower, leadership: Leadership, idle_s: float = IDLE_S,
                 retry_s: float = RETRY_S) -> None:
        self.follower = follower
        self.leadership = leadership
        self.idle_s = idle_s
        self.retry_s = retry_s
        self.leading = False
        self.on_stop: list[Callable[[], None]] = []  # called by stop() (the metrics' detach)
        self._stop = threading.Event()
        self._bell = Doorbell()  # rung by identity's appends in this process (wake) and by stop
        self._thread = threading.Thread(target=self._run, name="feed-follower", daemon=True)

    def start(self) -> FollowerThread:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Reads the feed now if idle (identity appended to it); safe from any thread."""
        self._bell.ring()

    def stop(self, timeout_s: float = 5.0) -> None:
        for call in self.on_stop:
            call()
        self._stop.set()
        self._bell.ring()
        self._thread.join(timeout_s)
        self.leadership.release()
        self.leading = False

    def lag(self) -> int:
        return self.follower.lag() if self.leading else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.leadership.acquire():
                self.leading = False
                self._stop.wait(self.retry_s)
                continue
            if not self.leading:
                log.info("this analytics replica applies identity's feed")
                try:
                    self.follower.fill_missing_crops()
                except Exception as exc:  # identity down: the crops come with a later start
                    log.warning("could not fetch the missing crops: %s", failed_call(exc))
            self.leading = True
            checked = time.monotonic()
            streak = FailureStreak()
            while not self._stop.is_set():
                if time.monotonic() - checked >= CHECK_S:
                    if not self.leadership.held():
                        log.warning("lost the feed leadership")
                        self.leading = False
                        break
                    checked = time.monotonic()
                rung = self._bell.mark()  # before the read: an append during it ends the idle wait at once
                try:
                    applied = self.follower.step()
                except Exception as exc:  # identity down or restarting: try again shortly, never die
                    level = logging.WARNING if streak.failed() else logging.DEBUG
                    log.log(level, "following identity's feed failed (try %d, retrying every %.0f s): %s",
                            streak.failures, self.retry_s, failed_call(exc))  # names identity's call
                    self._stop.wait(self.retry_s)
                    continue
                if failures := streak.succeeded():
                    log.info("following identity's feed again after %d failed tries", failures)
                if not applied:
                    self._bell.wait(rung, self.idle_s)
