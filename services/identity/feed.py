"""Identity's change feed: a durable, ordered log of what changed "who is in which video", which analytics
follows by itself (ListChanges).

Each entry is one serialised `identity_pb2.Change` (a video's appearances with face_ref but never crop bytes,
names, labels, forgotten video ids; at most CHANGE_VIDEOS videos) under the next position of an autoincrement
column of table `identity_changes`: SQLite `DATA/identity/feed.sqlite3` by default, or the PostgreSQL database
of settings.database_url, so that several identity replicas on one Qdrant server share one order. On
PostgreSQL an append takes a transaction-level advisory lock first, so that positions commit in their order
(a follower reading after position N never sees N+2 committed before N+1, which it would then skip).

Retention: the newest `retention` entries are kept; older ones are deleted (every TRIM_EVERY appends), and
the highest position deleted is remembered, so that a follower asking for anything after an older position
is told it is too far behind (TooFarBehind) and resyncs from a snapshot. That entry's digest is remembered with
it, so that a follower exactly there can still be told whether the feed goes on from the change it applied.

Identity: `feed_id`, made with the feed's tables (a feed from before it gets one at its first open) and kept
with them, goes with every page (ListChanges) and with the snapshot. A feed made again from empty (a new data
dir, another database) starts its positions at 1 again under a new id, so that a follower holding the old
feed's position resyncs instead of taking the new feed's changes after that position as the old feed's next.
A feed restored from a backup keeps its id; each entry's fingerprint (`digest`: its position and the time it
was written) tells it apart: the entry the restored feed writes at a position a follower applied before the
restore has another fingerprint, and ListChanges sends the one at the follower's position with each page.

Schema: Alembic keeps it (services/identity/migrations, version table `alembic_version_identity`, apart from
analytics' and ingest's in a shared database), migrated when the feed opens. A feed made by `create_all`
before Alembic (the tables, no version table) is stamped at the first revision, whose tables are the same,
and then upgraded: 0002 rewrites entries written before media times were Durations.

Write order and interruptions: a write goes to the face store first, then its change is appended here. An
interruption between the two (identity killed) leaves the face store changed and the feed without that
change, and the caller without an answer. Within an ingest batch the batch stays open, and the next batch's
repair has identity publish the current appearances of every video into the feed (Recluster resync_only +
publish); outside a batch (a correction by hand), the caller saw the call fail and retries, or the next
repair republishes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine

from influencers.v1 import identity_pb2
from services.common.database import database_url, is_postgres, left_behind, open_engine
from services.common.erasure import scrub_sql
from services.common.migrations import History, upgrade

ERASED = "(erased)"  # an erased person's id in the audit entries before the erasure (as analytics' trail shows it)
CHANGE_VIDEOS = 200  # videos in one entry: an entry stays well under a gRPC message whatever the write
TRIM_EVERY = 100  # appends between two trims of the tail
_APPEND_LOCK = 0x1DE_F33D  # pg_advisory_xact_lock key serialising appends across identity replicas
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_identity"  # the feed's own history, apart from analytics' and ingest's
# pg_advisory_xact_lock key of the feed's migrations (a stable 31-bit number of the name): two identity
# replicas starting at once migrate one after the other.
MIGRATION_LOCK = zlib.crc32(b"influencers.identity.migrations") & 0x7FFFFFFF
FIRST_REVISION = "0001_change_feed"  # create_all's tables: what a feed from before Alembic is stamped at
HISTORY = History("identity change feed", MIGRATIONS, VERSION_TABLE, MIGRATION_LOCK,
                  when_removed="analytics then resyncs from identity's face store")

# The tables as the queries use them; the migrations make them.
metadata = sa.MetaData()
changes_table = sa.Table(
    "identity_changes", metadata,
    sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),  # UTC seconds since the epoch
    sa.Column("change", sa.LargeBinary, nullable=False),  # identity_pb2.Change, position left 0
    sqlite_autoincrement=True,  # a deleted tail's positions are never given again
)
feed_id_table = sa.Table(  # one row: the feed's identity (migration 0003), made once with the feed
    "identity_feed_id", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("feed_id", sa.String(64), nullable=False),
)
trimmed_table = sa.Table(
    "identity_changes_trimmed", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("through", sa.BigInteger, nullable=False),  # highest position deleted by retention
    sa.Column("through_digest", sa.String(16), nullable=True),  # that entry's digest (migration 0004; None before)
)


def migrate(engine: Engine) -> None:
    """Brings the feed's tables to the newest revision (services/common/migrations.py), adopting a feed made
    by create_all before Alembic."""
    upgrade(engine, HISTORY, _adopt_create_all)


def _adopt_create_all(connection: Connection, revision: str | None) -> None:
    if revision is None and sa.inspect(connection).has_table(changes_table.name):
        command.stamp(HISTORY.config(connection), FIRST_REVISION)


class TooFarBehind(Exception):
    """The caller's position is older than the retained tail: it must resync from a snapshot."""


class ChangeFeed:
    """The feed on `engine`; `retention`: how many of the newest entries are kept."""

    def __init__(self, engine: Engine, retention: int = 10_000) -> None:
        self.engine = engine
        self.retention = max(1, retention)
        self._appends = 0
        self._lock = threading.Lock()
        # Called after each append is committed (a follower in this process: analytics' FollowerThread.wake).
        self.on_append: list[Callable[[], None]] = []
        migrate(engine)
        with engine.connect() as conn:
            self.feed_id: str = str(conn.execute(sa.select(feed_id_table.c.feed_id)
                                                 .where(feed_id_table.c.id == 1)).scalar_one())

    @classmethod
    def open(cls, configured_url: str, data_dir: Path, retention: int = 10_000) -> ChangeFeed:
        """The feed of settings.database_url when set, else SQLite `data_dir/identity/feed.sqlite3`."""
        sqlite_file = Path(data_dir) / "identity" / "feed.sqlite3"
        if note := left_behind(configured_url, sqlite_file, "identity's change feed"):
            logging.getLogger(__name__).warning(note)
        return cls(open_engine(database_url(configured_url, sqlite_file)), retention)

    def close(self) -> None:
        self.engine.dispose()

    def append(self, changes: list[identity_pb2.Change]) -> list[int]:
        """Appends `changes` in order, in one transaction; returns their positions."""
        if not changes:
            return []
        now = time.time()
        positions: list[int] = []
        with self.engine.begin() as conn:
            if is_postgres(self.engine):
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_APPEND_LOCK)))
            for change in changes:
                blank = identity_pb2.Change()
                blank.CopyFrom(change)
                blank.position = 0
                positions.append(int(conn.execute(changes_table.insert().values(
                    created_at=now, change=blank.SerializeToString())).inserted_primary_key[0]))
        with self._lock:
            self._appends += len(changes)
            due = self._appends >= TRIM_EVERY
            if due:
                self._appends = 0
        if due:
            self.trim()
        for call in self.on_append:
            call()
        return positions

    def head(self) -> int:
        """The newest position (0: nothing appended yet)."""
        with self.engine.connect() as conn:
            return self._head(conn)

    @staticmethod
    def _head(conn: Connection) -> int:
        newest = conn.execute(sa.select(sa.func.max(changes_table.c.position))).scalar()
        through = conn.execute(sa.select(sa.func.max(trimmed_table.c.through))).scalar()
        return int(max(newest or 0, through or 0))

    def trim(self) -> int:
        """Deletes the entries older than the newest `retention`; returns how many."""
        with self.engine.begin() as conn:
            if is_postgres(self.engine):  # one trimmer at a time among the replicas; first, as in append
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_APPEND_LOCK)))
            head = self._head(conn)
            cut = head - self.retention
            if cut <= 0:
                return 0
            # The digest of the entry at the cut goes with it: a follower whose position is the cut is sent it
            # (read), and a restored feed's other entry there is told apart from the one it applied.
            at = self._entry_digest(conn, cut)
            gone = conn.execute(changes_table.delete().where(changes_table.c.position <= cut)).rowcount
            through = conn.execute(sa.select(trimmed_table.c.through).where(trimmed_table.c.id == 1)).scalar()
            if through is None:
                conn.execute(trimmed_table.insert().values(id=1, through=cut, through_digest=at or None))
            elif cut > through:
                conn.execute(trimmed_table.update().where(trimmed_table.c.id == 1)
                             .values(through=cut, through_digest=at or None))
            return int(gone or 0)

    def read(self, after: int, limit: int) -> tuple[list[identity_pb2.Change], int]:
        """Up to `limit` changes after position `after`, oldest first (each with its digest), and the head
        position. TooFarBehind when entries after `after` were deleted by retention."""
        changes, head, _ = self._page(after, limit)
        return changes, head

    def read_page(self, after: int, limit: int) -> tuple[list[identity_pb2.Change], int, str]:
        """Up to `limit` changes after position `after`, oldest first (each with its digest), the head position
        and the digest of the entry at `after` (that of the newest trimmed entry when `after` is its position;
        "" at 0 or a position never written). TooFarBehind when entries after `after` were deleted by
        retention, or when `after` is the newest trimmed position and its digest was not kept (trimmed before
        migration 0004): the follower cannot be told whether the feed goes on from its change, so it resyncs."""
        changes, head, at = self._page(after, limit)
        if at is None:
            raise TooFarBehind(f"the entry at position {after} was trimmed before its digest was kept")
        return changes, head, at

    def _page(self, after: int, limit: int) -> tuple[list[identity_pb2.Change], int, str | None]:
        """read_page's answer, the digest None when `after` is a trimmed entry's whose digest was not kept."""
        with self.engine.connect() as conn:
            # The rows and the entry at `after` first, the trimmed mark last: a trim commits its deletion and its
            # mark together, so a trim between these reads is seen in the mark (on PostgreSQL each statement
            # reads what was committed before it), and the rows read are never a tail with a hole.
            rows = conn.execute(sa.select(changes_table.c.position, changes_table.c.change, changes_table.c.created_at)
                                .where(changes_table.c.position > after)
                                .order_by(changes_table.c.position).limit(limit)).all()
            at, through = self._digest_at(conn, after)
            head = self._head(conn)
        if after < through:
            raise TooFarBehind(f"position {after} is older than the retained feed (it starts after {through})")
        return [_change(position, blob, created_at) for position, blob, created_at in rows], head, at

    def digest(self, position: int) -> str:
        """The digest of the entry at `position`, or of the newest trimmed entry at its position ("": position
        0, an entry never written, or one trimmed before its digest was kept)."""
        with self.engine.connect() as conn:
            return self._digest_at(conn, position)[0] or ""

    def _digest_at(self, conn: Connection, position: int) -> tuple[str | None, int]:
        """The digest of the entry at `position`, or of the newest trimmed entry when `position` is its (None: one
        trimmed before its digest was kept; "": position 0 or never written), and the highest position trimmed.
        The entry is read before the trimmed mark: a trim between the two reads is seen in the mark."""
        at = self._entry_digest(conn, position)
        through, through_digest = self._trimmed(conn)
        if not at and position == through and position > 0:
            return through_digest, through
        return at, through

    @staticmethod
    def _entry_digest(conn: Connection, position: int) -> str:
        if position <= 0:
            return ""
        created_at = conn.execute(sa.select(changes_table.c.created_at)
                                  .where(changes_table.c.position == position)).scalar()
        return "" if created_at is None else digest(position, float(created_at))

    @staticmethod
    def _trimmed(conn: Connection) -> tuple[int, str | None]:
        """The highest position trimmed (0: none) and its entry's digest (None: not kept)."""
        row = conn.execute(sa.select(trimmed_table.c.through, trimmed_table.c.through_digest)
                           .order_by(trimmed_table.c.through.desc()).limit(1)).first()
        return (0, None) if row is None else (int(row[0]), row[1])

    def entries(self, positions: list[int]) -> Iterator[identity_pb2.Change]:
        """The entries at `positions`, in that order (those deleted since are skipped)."""
        with self.engine.connect() as conn:
            for start in range(0, len(positions), 500):
                chunk = positions[start:start + 500]
                rows = dict(conn.execute(sa.select(changes_table.c.position, changes_table.c.change)
                                         .where(changes_table.c.position.in_(chunk))).all())
                yield from (_change(p, rows[p]) for p in chunk if p in rows)


    def redact(self, influencer_id: str) -> int:
        """Rewrites every retained entry that names `influencer_id` (an erased person) without it: its
        appearances, name and labels go, the rest of the entry stays. Then scrubs the files (secure_delete
        and a truncated log on SQLite, VACUUM FULL on PostgreSQL). Returns how many entries changed."""
        needle = influencer_id.encode("utf-8")
        changed = 0
        after = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(sa.select(changes_table.c.position, changes_table.c.change)
                                    .where(changes_table.c.position > after)
                                    .order_by(changes_table.c.position).limit(500)).all()
                for position, blob in rows:
                    if needle in bytes(blob):
                        change = identity_pb2.Change.FromString(bytes(blob))
                        _without(change, influencer_id)
                        conn.execute(changes_table.update().where(changes_table.c.position == position)
                                     .values(change=change.SerializeToString()))
                        changed += 1
            if len(rows) < 500:
                break
            after = int(rows[-1][0])
        scrub_sql(self.engine, [changes_table.name])
        return changed


def _without(change: identity_pb2.Change, influencer_id: str) -> None:
    """Removes every mention of `influencer_id` from `change`, in place."""
    for video in change.videos:
        kept = [a for a in video.appearances if a.influencer_id != influencer_id]
        if len(kept) != len(video.appearances):
            del video.appearances[:]
            video.appearances.extend(kept)
    if influencer_id in change.names:
        del change.names[influencer_id]
    labels = [x for x in change.labels if x.influencer_id != influencer_id]
    del change.labels[:]
    change.labels.extend(labels)
    audit = change.audit
    if influencer_id in (*audit.before_ids, *audit.after_ids, *audit.names):
        # As analytics takes the person out of its trail (services/analytics/audit.py AuditRow.without): the id
        # becomes ERASED, its name and a rename's or an enrolment's names go. Was kept: a reader of the feed
        # (ListChanges, a follower replaying it) found the erased person's id and name in the entries before.
        for ids in (audit.before_ids, audit.after_ids):
            kept = [ERASED if i == influencer_id else i for i in ids]
            del ids[:]
            ids.extend(kept)
        audit.names.pop(influencer_id, None)
        if audit.action in (identity_pb2.AUDIT_ACTION_RENAME, identity_pb2.AUDIT_ACTION_ENROL):
            audit.before_name = audit.after_name = ""


def digest(position: int, created_at: float) -> str:
    """An entry's fingerprint (Change.digest): 16 hex digits of its position and the time it was written (UTC
    seconds, as stored). Not of its bytes: an erasure (redact) and a migration rewrite those in place, and the
    entry stays the one a follower applied. A feed restored from a backup writes its next entries later, so a
    position it reaches again gets another fingerprint."""
    return hashlib.sha256(f"{int(position)}:{float(created_at)!r}".encode()).hexdigest()[:16]


def _change(position: int, blob: bytes, created_at: float | None = None) -> identity_pb2.Change:
    change = identity_pb2.Change.FromString(bytes(blob))
    change.position = int(position)
    if created_at is not None:
        change.digest = digest(position, float(created_at))
    return change
