"""The analytics system of record and its write rules: manifest rows, videos, appearances and names, in
SQLite (the embedded default, one file in the data dir) or PostgreSQL (INFLUENCERS_DATABASE_URL, shared by
every analytics replica). Tables and migrations: store_schema.py; reads: store_reads.py.

A manifest row is keyed by its location (where its bytes were read: an absolute path or an http(s) URL),
never by the manifest's spelling alone: `a.mp4` in two folders is two rows. The spelling is kept as `url`
for the report. Rows from before locations were kept are keyed by their spelling until the row is next
processed, which moves it to its location when the bytes match.

Who is in which video comes from identity's change feed (`apply_changes`, with its position in the same
transaction). Once the store follows the feed (a position above 0), only the feed and the analyst's labels
change appearances: RecordVideo's appearances are ignored, and a video dropped from the manifest keeps its
rows (unseen by reads until it is recorded done again). Before that, record_video and replace_appearances
write them, as the embedded path always has.

Every write is one transaction that first moves the state row's revision: writers of every process queue on
that row (PostgreSQL) or on BEGIN IMMEDIATE (SQLite), so the dedupe rules read and write as one writer did.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from services.analytics import store_audit
from services.analytics.audit import AuditRow
from services.analytics.records import (
    DONE,
    DUPLICATE,
    FAILED,
    MAX_REPEATS,
    MAX_START_S,
    MAX_TOTAL_REPEATS,
    AppearanceRow,
    VideoRow,
    merge_appearances,
    secrets_kept_out,
)
from services.analytics.store_reads import (
    APPEARANCE_FRAME_COLUMNS,
    CHUNK,
    VIDEO_FRAME_COLUMNS,
    StoreReads,
    missing_face_refs,
)
from services.analytics.store_schema import appearances, check_current, erased, migrate, names, state, urls, videos
from services.analytics.store_schema import reposts as reposts_table
from services.analytics.store_sessions import SqlRevocations
from services.common.boundary import is_video_id
from services.common.database import database_url, is_postgres, left_behind, open_engine
from services.common.erasure import erasure_key, scrub_sql
from services.common.location_key import location_key
from services.common.row_keys import folder_form, is_manifest_row_key, is_row_of, manifest_head, named_forms
from services.common.scores import score_problem

if TYPE_CHECKING:
    from services.common.settings import Settings

__all__ = ["APPEARANCE_FRAME_COLUMNS", "SQLITE_FILE", "VIDEO_FRAME_COLUMNS", "AnalyticsStore", "Label"]

SQLITE_FILE = "analytics.sqlite3"  # in the data dir, when no database URL is set


@dataclass(frozen=True)
class Label:
    """What the analyst said of an influencer (identity sends it with each correction): its display name
    ("" for none), "not an influencer" (hidden), or erased (deleted)."""

    influencer_id: str
    name: str = ""
    hidden: bool = False
    deleted: bool = False
    # Of an erasure from identity's feed: the keyed hash of the erased id, sent instead of the id.
    erased_key: str = ""


class _Write:
    """One write transaction: `changed = False` rolls it back at the end (nothing to keep). `position` is
    the feed position when it began (above 0: the store follows identity's feed)."""

    def __init__(self, connection: Connection, position: int) -> None:
        self.c = connection
        self.position = position
        self.changed = True
        self.erased = False  # an erasure deleted rows: their bytes are scrubbed from the files after commit


class AnalyticsStore(StoreReads):
    """The store at `target`: a SQLite file's Path (created with its folder on first use), or a database URL
    (`sqlite:///...`, `postgresql://...`). The schema is migrated to this release's on open."""

    def __init__(self, target: Path | str, read_only: bool = False) -> None:
        """`read_only`: a SQLite file is opened as it is and never written (export, eval); StaleSchema when it
        needs a migration first."""
        text = str(target)
        url = text if "://" in text else database_url("", Path(text))
        engine = open_engine(url, read_only=read_only)
        try:
            if read_only and not is_postgres(engine):
                check_current(engine)
            else:
                migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        super().__init__(engine, None if is_postgres(engine) else threading.RLock())
        self.url = url
        self.erasure_secret = ""  # settings.erasure_secret: the key of erased ids' hashes (tombstones)

    @classmethod
    def open(cls, settings: Settings, read_only: bool = False) -> AnalyticsStore:
        """The store the settings name: settings.database_url, else DATA/analytics.sqlite3."""
        if note := left_behind(settings.database_url, settings.data_dir / SQLITE_FILE, "analytics"):
            logging.getLogger(__name__).warning(note)
        store = cls(database_url(settings.database_url, settings.data_dir / SQLITE_FILE), read_only)
        store.erasure_secret = settings.erasure_secret
        return store

    def revocations(self) -> SqlRevocations:
        """The page's sign-outs, kept in this database for every replica (store_sessions.py)."""
        return SqlRevocations(self._engine)

    def close(self) -> None:
        with self._locked():
            self._closed = True
            self._engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[_Write]:
        with self._locked(), self._connect() as connection:
            transaction = connection.begin()
            try:
                # First statement: the state row's lock, held to the end (writers queue here, as on SQLite).
                position = connection.execute(state.update().values(revision=state.c.revision + 1)
                                              .returning(state.c.feed_position)).scalar_one()
                write = _Write(connection, int(position))
                yield write
            except BaseException:
                transaction.rollback()
                raise
            if write.changed:
                transaction.commit()
            else:
                transaction.rollback()
        if write.changed and write.erased:
            scrub_sql(self._engine, ["appearances", "names"])

    # ---- manifest rows ------------------------------------------------------------------------------

    def record_video(self, row: VideoRow, appearances: Iterable[AppearanceRow] | None = None) -> bool:
        """Records one manifest row's outcome in one transaction; returns False when nothing changed.

        Rows are keyed by `row.key` (location, else url). DONE: upserts the video (its url and location
        stay those of the first row that produced it) and, when `appearances` is given and the store does
        not follow identity's feed, replaces all its appearances. DONE for content already done at another
        location is stored as DUPLICATE of it. DUPLICATE: only the manifest row, pointing at the existing
        video; a DUPLICATE of the video this very location produced refreshes that row's score and keeps it
        DONE. FAILED and others: the manifest row, and the video row when the video id is known and not
        already done; but a row that already has a result (DONE or DUPLICATE) keeps it, its video and its
        appearances: a done row only notes the error.
        Raises ValueError for a row without a URL, or DONE / DUPLICATE without a video id.
        """
        row = secrets_kept_out(row)
        rows = _checked(row, appearances)
        with self._writing() as w:
            row, merged = _one_form(w.c, row)
            current = w.c.execute(_URL_OF, {"key": row.key}).first()
            if current is None:  # a new manifest row: a change
                self._apply_video(w, row, rows, current)
                return True
            before = _snapshot(w.c, row.key, row.video_id)
            self._apply_video(w, row, rows, current)
            # An unchanged record rolls back so that `updated_at` keeps the time of the last real change.
            w.changed = merged or _snapshot(w.c, row.key, row.video_id) != before
            return w.changed

    def forget_manifest_rows(self, base_dir: str, manifest: str, kept: Iterable[str]) -> int:
        """Removes the failed rows without content that earlier runs of the manifest `manifest` in `base_dir`
        recorded under its manifest rows (services/common/row_keys.py: a row without URL, or kept apart) whose keys
        are not in `kept`, the keys its run records so: a line since fixed (now recorded at its file), moved or
        gone. Never another manifest's row, nor one with content; keys of the folder and line alone (a store from
        before manifests were named) are not the manifest's to remove. Returns how many went."""
        if not manifest:
            return 0
        head = manifest_head(base_dir, manifest)
        keep = {location_key(k) for k in kept}
        with self._writing() as w:
            found = w.c.execute(sa.select(urls.c.location).where(
                urls.c.location.startswith(head, autoescape=True), urls.c.status == FAILED,
                urls.c.video_id == "")).scalars().all()
            stale = [k for k in found if is_row_of(k, head) and k not in keep]
            for chunk in range(0, len(stale), CHUNK):
                w.c.execute(urls.delete().where(urls.c.location.in_(stale[chunk:chunk + CHUNK])))
            w.changed = bool(stale)
            return len(stale)

    def record_many(self, items: Iterable[tuple[VideoRow, Iterable[AppearanceRow] | None]]) -> int:
        """Records many manifest URLs exactly as successive record_video calls would, in one transaction
        (bulk imports, benchmarks). Returns how many changed something; one invalid row records none."""
        kept = ((secrets_kept_out(row), appearances) for row, appearances in items)
        checked = [(row, _checked(row, appearances)) for row, appearances in kept]
        with self._writing() as w:
            changed = 0
            for given, rows in checked:
                row, merged = _one_form(w.c, given)
                current = w.c.execute(_URL_OF, {"key": row.key}).first()
                if current is None:  # a new manifest row: a change
                    self._apply_video(w, row, rows, current)
                    changed += 1
                    continue
                before = _snapshot(w.c, row.key, row.video_id)
                stamp = w.c.execute(_UPDATED_AT, {"key": row.key}).scalar_one()
                self._apply_video(w, row, rows, current)
                if _snapshot(w.c, row.key, row.video_id) == before:
                    # record_video's rule: an unchanged row keeps the time of its last real change. (Not a
                    # savepoint per row: SQLite keeps each one rolled back to, and they pile up.)
                    w.c.execute(_SET_UPDATED_AT, {"key": row.key, "stamp": stamp})
                    changed += merged  # its other key's row moved or went
                else:
                    changed += 1
            w.changed = changed > 0
            return changed

    def _apply_video(self, w: _Write, row: VideoRow, rows: list[AppearanceRow] | None,
                     current: sa.Row[tuple[str, int]] | None) -> None:
        """The write rules of record_video; `current` is the (video_id, status) stored at the row's key."""
        c, key = w.c, row.key
        if current is None and key != row.url and row.video_id:
            current = _adopt(c, row)
        if row.status not in (DONE, DUPLICATE) and current is not None and current[1] in (DONE, DUPLICATE):
            # A failure on a rerun (a bad score, a file gone) never undoes the row's result.
            if current[1] == DONE:
                c.execute(urls.update().where(urls.c.location == key).values(error=row.error,
                                                                              updated_at=time.time()))
            return
        existing = c.execute(_VIDEO_OF, {"id": row.video_id}).first()
        status = row.status
        if status == DUPLICATE and existing is not None and tuple(existing) == (key, DONE):
            _refresh(c, row)
            return
        if status == DONE and existing is not None and existing[1] == DONE and existing[0] != key:
            status = DUPLICATE
        if row.repeats:
            _check_total_repeats(c, row)
        c.execute(_upserts(c.dialect.name).url, {
            "location": key, "url": row.url, "video_id": row.video_id, "performance": row.performance,
            "status": status, "error": row.error, "external_id": row.external_id, "updated_at": time.time(),
            "repeats": row.repeats})
        if current is not None and current[0] and current[0] != row.video_id:
            self._detach(w, key, current[0])
        if not row.video_id or status == DUPLICATE:
            return
        if status == DONE:
            _upsert_video(c, row, "")
            if rows is not None and not w.position:
                _replace(c, row.video_id, _alive(c, rows, self.erasure_secret))
        elif existing is None or existing[1] != DONE:
            _upsert_video(c, row, row.error)

    def _detach(self, w: _Write, location: str, video_id: str) -> None:
        """The location now gives other bytes: its old video moves to its next row, or goes when it has
        none (its appearances too, unless identity's feed owns them)."""
        c = w.c
        owned = c.execute(sa.select(videos.c.video_id).where(videos.c.video_id == video_id,
                                                              videos.c.location == location)).first()
        if owned is None:
            return
        heir = c.execute(sa.select(urls.c.location, urls.c.url).where(urls.c.video_id == video_id).order_by(
            urls.c.seq).limit(1)).first()
        if heir is not None:
            c.execute(videos.update().where(videos.c.video_id == video_id).values(location=heir[0], url=heir[1]))
            # The heir was a duplicate of this video; now it is the row that stands for it.
            video_done = sa.select(videos.c.status).where(videos.c.video_id == video_id).scalar_subquery() == DONE
            c.execute(urls.update().where(urls.c.location == heir[0], urls.c.status == DUPLICATE, video_done)
                      .values(status=DONE))
        else:
            if not w.position:
                c.execute(appearances.delete().where(appearances.c.video_id == video_id))
            c.execute(videos.delete().where(videos.c.video_id == video_id))

    def update_performance(self, key: str, performance: float | None) -> bool:
        """Sets the score of the row keyed `key` (its location, or its url when it has none), and its
        video's when that row produced it; appearances stay. Clears the error a failed rerun noted on a
        done row. Returns False when nothing changed; KeyError for an unknown row."""
        key = location_key(key)
        with self._writing() as w:
            found = w.c.execute(sa.select(urls.c.video_id, urls.c.performance, urls.c.status, urls.c.error)
                                .where(urls.c.location == key)).first()
            if found is None:
                w.changed = False
                raise KeyError(key)
            noted = found[2] == DONE and found[3] != ""
            if found[1] == performance and not noted:
                w.changed = False
                return False
            w.c.execute(urls.update().where(urls.c.location == key).values(
                performance=performance, updated_at=time.time(),
                error=sa.case((urls.c.status == DONE, ""), else_=urls.c.error)))
            w.c.execute(videos.update().where(videos.c.video_id == found[0], videos.c.location == key)
                        .values(performance=performance))
            return True

    # ---- who is in which video ----------------------------------------------------------------------

    def replace_appearances(self, updates: dict[str, list[AppearanceRow]], names: dict[str, str],
                            labels: Iterable[Label] = ()) -> int:
        """Replaces the appearances of each known video in `updates` (by video id), upserts `names`, then
        applies `labels` as given (see _apply_label), in one transaction. Returns how many videos were
        replaced; unknown video ids are skipped. A row with a face_ref and no best_face gets the crop
        already stored under that face_ref, if any (see missing_face_refs)."""
        with self._writing() as w:
            known = _known_videos(w.c, updates)
            replaced = _replace_many(w.c, {v: rows for v, rows in updates.items() if v in known},
                                     self.erasure_secret)
            w.erased = _apply_names(w.c, names, labels, self.erasure_secret)
            return replaced

    def apply_changes(self, position: int, videos: Mapping[str, list[AppearanceRow]], names: Mapping[str, str],
                      labels: Iterable[Label] = (), forgotten: Iterable[str] = (), *, snapshot: bool = False,
                      audit: AuditRow | None = None, reposts: Mapping[str, str] | None = None,
                      feed_id: str = "", digest: str = "") -> list[str]:
        """Applies one change of identity's feed in ONE transaction, together with moving feed_position to
        `position` (and storing `feed_id`, the feed's identity, beside it when given, and `digest`, the change's
        fingerprint, always: "" clears the one of an older position). Idempotent: when
        position <= feed_position() nothing happens and [] is returned (unless snapshot). Replaces the
        appearances of each video id in `videos` (an empty list clears them; a video not recorded yet keeps
        them until it is recorded done, when they count), removes those of the `forgotten` video ids, upserts
        `names`, then applies `labels` as replace_appearances does. A row with a face_ref and no best_face
        gets the crop already stored under that face_ref. Returns the face refs of these videos whose crop
        bytes are still missing, sorted.
        snapshot=True (the resync of a follower that fell too far behind): applies the page without the
        position check and without moving the position (end_snapshot does). `audit`: the correction's row of
        the audit trail, appended under `position` in the same transaction (once: a replay adds nothing).
        ValueError for a malformed video id."""
        bad = [v for v in [*videos, *forgotten] if not is_video_id(v)]
        if bad:
            raise ValueError(f"video_id {bad[0][:40]!r} is not 16 lowercase hex digits")
        with self._writing() as w:
            if not snapshot and position <= w.position:
                w.changed = False
                return []
            _replace_many(w.c, dict(videos), self.erasure_secret)
            gone = list(dict.fromkeys(forgotten))
            for start in range(0, len(gone), CHUNK):
                w.c.execute(appearances.delete().where(appearances.c.video_id.in_(gone[start:start + CHUNK])))
            w.erased = _apply_names(w.c, names, labels, self.erasure_secret)
            if reposts:  # `reposts`: video id -> date of the erasure of a person seen again in it
                w.c.execute(_upsert(w.c, reposts_table, None, ["video_id"], ["erased_utc"]),
                            [{"video_id": v, "erased_utc": d} for v, d in reposts.items()])
            if not snapshot:
                if audit is not None:
                    store_audit.append(w.c, replace(audit, position=position))
                moved: dict[str, object] = {"feed_position": position, "feed_digest": digest}
                if feed_id:  # the feed this position is of, in the same statement: never one without the other
                    moved["feed_id"] = feed_id
                w.c.execute(state.update().values(**moved))
            return missing_face_refs(w.c, videos)

    # ---- the audit trail (services/analytics/audit.py) -------------------------------------------------

    def audit_page(self, before_position: int = 0, limit: int = 50) -> tuple[list[AuditRow], int]:
        """Audit rows older than `before_position` (0: the newest), newest first, and where the next page
        starts (0: none)."""
        with self._locked(), self._connect() as c:
            return store_audit.page(c, before_position, limit)

    def audit_row(self, audit_id: str) -> tuple[AuditRow | None, bool]:
        """The audit row of `audit_id` (None: not applied here yet, or no such id), and whether an undo
        reverted it."""
        with self._locked(), self._connect() as c:
            return store_audit.one(c, audit_id), bool(store_audit.undone(c, [audit_id]))

    def audit_undone(self, audit_ids: list[str]) -> set[str]:
        """Those of `audit_ids` an undo reverted."""
        with self._locked(), self._connect() as c:
            return store_audit.undone(c, audit_ids)

    def audit_leaving(self, influencer_id: str) -> AuditRow | None:
        """The newest correction, not undone, that took `influencer_id` away (merged into another); None: none."""
        with self._locked(), self._connect() as c:
            return store_audit.newest_leaving(c, influencer_id)

    def audit_named_before(self, influencer_ids: list[str], position: int) -> set[str]:
        """Those of `influencer_ids` that an audit row older than feed `position` names (audit.founded_by)."""
        with self._locked(), self._connect() as c:
            return store_audit.named_before(c, influencer_ids, position)

    def audit_rows(self) -> list[AuditRow]:
        """Every audit row, newest first."""
        with self._locked(), self._connect() as c:
            return store_audit.every(c)

    def end_snapshot(self, position: int, video_ids: Iterable[str], feed_id: str = "", digest: str = "") -> None:
        """After the last snapshot page: removes the appearances of every video NOT in `video_ids` (the ids
        the snapshot carried) and sets feed_position to `position`, the feed's identity to `feed_id` (that
        of the feed the snapshot came from) and the fingerprint of its change at `position` to `digest`, in one
        transaction: a kill before it commits leaves the old position and id, so the follower resyncs again."""
        keep = set(video_ids)
        with self._writing() as w:
            stored = w.c.execute(sa.select(appearances.c.video_id).distinct()).scalars().all()
            gone = [v for v in stored if v not in keep]
            for start in range(0, len(gone), CHUNK):
                w.c.execute(appearances.delete().where(appearances.c.video_id.in_(gone[start:start + CHUNK])))
            w.c.execute(state.update().values(feed_position=position, feed_id=feed_id, feed_digest=digest))

    def fill_crops(self, crops: Mapping[str, bytes]) -> int:
        """Sets best_face of appearances whose face_ref is a key and whose best_face is empty; returns rows."""
        filled = 0
        with self._writing() as w:
            for face_ref, jpeg in crops.items():
                if face_ref and jpeg:
                    filled += w.c.execute(appearances.update().where(
                        appearances.c.face_ref == face_ref, sa.func.length(appearances.c.best_face) == 0,
                    ).values(best_face=bytes(jpeg))).rowcount
            w.changed = filled > 0
        return filled


# ---- the write rules' statements (inside a _writing transaction) --------------------------------------


def _checked(row: VideoRow, rows: Iterable[AppearanceRow] | None) -> list[AppearanceRow] | None:
    """The row's appearances merged and keyed to its video id; ValueError for a row record_video refuses."""
    if not row.key:
        raise ValueError("a video row needs its manifest url or its location")
    if row.status in (DONE, DUPLICATE) and not row.video_id:
        raise ValueError(f"{row.url}: a done or duplicate video needs its video_id")
    if row.video_id and not is_video_id(row.video_id):
        raise ValueError(f"{row.url}: video_id {row.video_id[:40]!r} is not 16 lowercase hex digits")
    if not 0 <= row.repeats <= MAX_REPEATS:
        raise ValueError(f"{row.url}: repeats {row.repeats} is out of range (0 to {MAX_REPEATS:,})")
    if not 0 <= row.start_s <= MAX_START_S:  # NaN too: the page seeks its player to times plus it
        raise ValueError(f"{row.url}: start {row.start_s} s is out of range (0 to {MAX_START_S:,} s)")
    # The score rule without its sign: synthetic rows written straight to the store are centred on zero.
    if problem := score_problem(row.performance, allow_negative=True):
        raise ValueError(f"{row.url}: {problem}")
    if rows is None:
        return None
    return merge_appearances([replace(a, video_id=row.video_id) for a in rows])


def _check_total_repeats(c: Connection, row: VideoRow) -> None:
    """ValueError when recording `row` would raise the repeats of the store's rows (each a row of videos.csv)
    past MAX_TOTAL_REPEATS in all: the row is refused, the rows recorded stay as they are."""
    stored = c.execute(sa.select(urls.c.repeats).where(urls.c.location == row.key)).scalar() or 0
    if row.repeats <= stored:
        return  # the row keeps the most it was given: no more rows than now
    others = c.execute(sa.select(sa.func.coalesce(sa.func.sum(urls.c.repeats), 0)).where(
        urls.c.repeats > 0, urls.c.location != row.key)).scalar_one()
    if others + row.repeats > MAX_TOTAL_REPEATS:
        raise ValueError(f"repeats {row.repeats:,} would make the store's rows repeat {others + row.repeats:,} "
                         f"times in all, over the limit of {MAX_TOTAL_REPEATS:,} (repeats summed over every "
                         f"row, each a row of videos.csv); row {row.url[:80]!r} not recorded")


def _upsert(c: Connection, table: sa.Table, values: dict[str, object] | None, keys: list[str],
            update: list[str]) -> sa.Executable:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET `update` = the new values (both engines' upsert).
    `values` None: the rows are given at execution (many at once)."""
    insert = (postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert)(table)
    if values is not None:
        insert = insert.values(values)
    return insert.on_conflict_do_update(index_elements=keys, set_={k: insert.excluded[k] for k in update})


def _next_seq(table: sa.Table) -> sa.ColumnElement[int]:
    """The next first-recorded position of `table` (writers are serialised, so max + 1 is unique). The
    bare max() reads the end of the seq index on both engines; wrapped in coalesce it would scan the table."""
    return sa.func.coalesce(sa.select(sa.func.max(table.c.seq)).scalar_subquery(), 0) + 1


def _upsert_video(c: Connection, row: VideoRow, error: str) -> None:
    c.execute(_upserts(c.dialect.name).video, {
        "video_id": row.video_id, "url": row.url, "location": row.key, "performance": row.performance,
        "status": row.status, "error": error, "duration_s": row.duration_s, "faces": row.faces,
        "start_s": row.start_s})


def _adopt(c: Connection, row: VideoRow) -> tuple[str, int] | None:
    """A row migrated from before locations were kept (keyed by its spelling) that holds the same bytes
    is this row: it moves to the row's location. Returns its (video_id, status), or None."""
    legacy = c.execute(sa.select(urls.c.video_id, urls.c.status).where(urls.c.location == row.url,
                                                                        urls.c.url == row.url)).first()
    if legacy is None or legacy[0] != row.video_id:
        return None
    c.execute(urls.update().where(urls.c.location == row.url).values(location=row.key))
    c.execute(videos.update().where(videos.c.video_id == row.video_id, videos.c.location == row.url)
              .values(location=row.key))
    return legacy[0], legacy[1]


def _one_form(c: Connection, row: VideoRow) -> tuple[VideoRow, bool]:
    """A failed row keyed by its manifest row is one row under both forms of its key (services/common/row_keys.py):
    the folder and line alone (a store from before manifests were named, or an ingest replica of that release
    in a rolling upgrade) and the folder, file name and line. Recorded under the named form, the same row under
    the folder form (its URL and score: that manifest's line as it stood) moves to it, keeping its place, or goes
    when the named form is listed already; recorded under the folder form, it is written onto its named form,
    when one holds the same row. Only failed rows without content are ever moved: never another manifest's row
    (its URL or score differ), never a good row. Returns the row to record and whether a row moved or went."""
    key = row.location
    if row.video_id or not is_manifest_row_key(key) or location_key(key) != key:
        return row, False
    older = folder_form(key)
    if older and _same_failed_row(c, older, row):
        if c.execute(_URL_OF, {"key": key}).first() is None:
            c.execute(urls.update().where(urls.c.location == older).values(location=key))
        else:
            c.execute(urls.delete().where(urls.c.location == older))
        return row, True
    head, tail = named_forms(key)
    named = c.execute(sa.select(urls.c.location).where(
        urls.c.location.startswith(head, autoescape=True), urls.c.location.endswith(tail, autoescape=True),
        urls.c.video_id == "").order_by(urls.c.seq)).scalars().all()
    for other in named:
        if folder_form(other) == key and _same_failed_row(c, other, row):
            listed = _same_failed_row(c, key, row)  # both forms listed (a store upgraded before this rule)
            if listed:
                c.execute(urls.delete().where(urls.c.location == key))
            return replace(row, location=other), listed
    return row, False


def _same_failed_row(c: Connection, key: str, row: VideoRow) -> bool:
    """Whether the row stored at `key` is failed, without content, with `row`'s URL and score."""
    found = c.execute(sa.select(urls.c.url, urls.c.performance, urls.c.status, urls.c.video_id)
                      .where(urls.c.location == key)).first()
    return found is not None and tuple(found) == (row.url, row.performance, FAILED, "")


def _refresh(c: Connection, row: VideoRow) -> None:
    """The row of a video's own location seen again: its score follows, its appearances stay."""
    c.execute(urls.update().where(urls.c.location == row.key).values(
        url=row.url, performance=row.performance, status=DONE, error="", external_id=row.external_id,
        updated_at=time.time()))
    c.execute(videos.update().where(videos.c.video_id == row.video_id, videos.c.location == row.key)
              .values(performance=row.performance))


def _replace(c: Connection, video_id: str, rows: list[AppearanceRow]) -> None:
    c.execute(_DELETE_APPEARANCES, {"id": video_id})
    if rows:
        c.execute(_INSERT_APPEARANCES, [
            {"video_id": video_id, "influencer_id": a.influencer_id, "first_seen_s": a.first_seen_s,
             "last_seen_s": a.last_seen_s, "faces": a.faces, "screen_time_s": a.screen_time_s,
             "face_quality": a.face_quality, "best_face": a.best_face, "ambiguous": int(a.ambiguous),
             "face_ref": a.face_ref, "segments": json.dumps(a.segments)} for a in rows])


def _replace_many(c: Connection, updates: dict[str, list[AppearanceRow]], secret: str = "") -> int:
    """Replaces each video's appearances (merged, keyed to it; those of erased ids dropped); a row with a
    face_ref and no crop gets the crop stored under that ref (looked up before any row goes). Returns how many
    videos."""
    updates = {video_id: _alive(c, rows, secret) for video_id, rows in updates.items()}
    crops = _crops(c, {a.face_ref for rows in updates.values() for a in rows if a.face_ref and not a.best_face})
    fixed = {video_id: merge_appearances([replace(a, video_id=video_id, best_face=a.best_face or crops.get(
        a.face_ref, b"")) for a in rows]) for video_id, rows in updates.items()}
    for video_id, rows in fixed.items():
        _replace(c, video_id, rows)
    return len(fixed)


def _crops(c: Connection, face_refs: set[str]) -> dict[str, bytes]:
    """The crop stored under each of `face_refs` that has one."""
    refs = sorted(face_refs)
    found: dict[str, bytes] = {}
    for start in range(0, len(refs), CHUNK):
        for ref, jpeg in c.execute(sa.select(appearances.c.face_ref, appearances.c.best_face).where(
                appearances.c.face_ref.in_(refs[start:start + CHUNK]),
                sa.func.length(appearances.c.best_face) > 0)):
            found.setdefault(ref, bytes(jpeg))
    return found


def _known_videos(c: Connection, video_ids: Iterable[str]) -> set[str]:
    ids = list(video_ids)
    known: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        known.update(c.execute(sa.select(videos.c.video_id).where(
            videos.c.video_id.in_(ids[start:start + CHUNK]))).scalars())
    return known


def _tombstoned(c: Connection, influencer_ids: Iterable[str], secret: str) -> set[str]:
    """The ids among `influencer_ids` whose keyed hash is a tombstone (an erased person)."""
    keys = {erasure_key(i, secret): i for i in set(influencer_ids)}
    found: set[str] = set()
    listed = sorted(keys)
    for start in range(0, len(listed), CHUNK):
        found.update(keys[k] for k in c.execute(sa.select(erased.c.erased_key).where(
            erased.c.erased_key.in_(listed[start:start + CHUNK]))).scalars())
    return found


def _alive(c: Connection, rows: list[AppearanceRow], secret: str) -> list[AppearanceRow]:
    """`rows` without the appearances of erased ids: a late RecordVideo or feed change cannot resurrect them."""
    dead = _tombstoned(c, (a.influencer_id for a in rows), secret) if rows else set()
    return [a for a in rows if a.influencer_id not in dead] if dead else rows


def _erase(c: Connection, label: Label, secret: str) -> set[str]:
    """Deletes every row of the erased id (given, or found by its keyed hash) and keeps its tombstone;
    returns the ids it found (for the audit trail to forget them too)."""
    key = label.erased_key or erasure_key(label.influencer_id, secret)
    ids = {label.influencer_id} - {""}
    if label.erased_key:
        stored = set(c.execute(sa.select(appearances.c.influencer_id).distinct()).scalars())
        stored |= set(c.execute(sa.select(names.c.influencer_id)).scalars())
        stored |= store_audit.ids_named(c)  # an id merged into the erased one lives on in the trail alone
        ids |= {i for i in stored if erasure_key(i, secret) == key}
    for influencer_id in ids:
        c.execute(appearances.delete().where(appearances.c.influencer_id == influencer_id))
        c.execute(names.delete().where(names.c.influencer_id == influencer_id))
    insert = (postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert)(erased)
    c.execute(insert.values(erased_key=key, erased_at=time.time()).on_conflict_do_nothing(
        index_elements=["erased_key"]))  # a republished erasure keeps the date of the first
    return ids


def _apply_names(c: Connection, given: Mapping[str, str], labels: Iterable[Label], secret: str = "") -> bool:
    """Upserts display names (the hidden flag stays; names of erased ids are refused), then applies each label
    as given: the name ("" clears it) and the hidden flag; an erased influencer loses every row (its
    appearances, their crops, its name) and leaves a tombstone. Returns whether anything was erased."""
    dead = _tombstoned(c, given, secret) if given else set()
    given = {i: n for i, n in given.items() if i not in dead}
    if given:
        c.execute(_upsert(c, names, None, ["influencer_id"], ["name"]),
                  [{"influencer_id": i, "name": n} for i, n in given.items()])
    erasing = False
    for label in labels:
        if label.deleted:
            for influencer_id in _erase(c, label, secret):
                store_audit.erase(c, influencer_id)
            erasing = True
        elif label.name or label.hidden:
            c.execute(_upsert(c, names, {"influencer_id": label.influencer_id, "name": label.name,
                                         "hidden": int(label.hidden)}, ["influencer_id"], ["name", "hidden"]))
        else:
            c.execute(names.delete().where(names.c.influencer_id == label.influencer_id))
    return erasing


def _snapshot(c: Connection, key: str, video_id: str) -> tuple[object, ...]:
    """What a record of this row may change: its manifest row (but updated_at), its video, its appearances."""
    url_row = c.execute(_SNAPSHOT_URL, {"key": key}).first()
    video = c.execute(_SNAPSHOT_VIDEO, {"id": video_id}).first()
    found = c.execute(_SNAPSHOT_APPEARANCES, {"id": video_id}).all()
    return (tuple(url_row) if url_row else None), (tuple(video) if video else None), [tuple(r) for r in found]


# Statements of the per-row path, built once (building a statement costs more than SQLite running it).
_URL_OF = sa.select(urls.c.video_id, urls.c.status).where(urls.c.location == sa.bindparam("key"))
_VIDEO_OF = sa.select(videos.c.location, videos.c.status).where(videos.c.video_id == sa.bindparam("id"))
_SNAPSHOT_URL = sa.select(urls.c.url, urls.c.video_id, urls.c.performance, urls.c.status, urls.c.error,
                          urls.c.external_id, urls.c.repeats).where(urls.c.location == sa.bindparam("key"))
_UPDATED_AT = sa.select(urls.c.updated_at).where(urls.c.location == sa.bindparam("key"))
_SET_UPDATED_AT = urls.update().where(urls.c.location == sa.bindparam("key")).values(
    updated_at=sa.bindparam("stamp"))
_SNAPSHOT_VIDEO = sa.select(videos).where(videos.c.video_id == sa.bindparam("id"))
_SNAPSHOT_APPEARANCES = sa.select(appearances).where(appearances.c.video_id == sa.bindparam("id")).order_by(
    appearances.c.influencer_id)
_DELETE_APPEARANCES = appearances.delete().where(appearances.c.video_id == sa.bindparam("id"))
_INSERT_APPEARANCES = appearances.insert()


@dataclass(frozen=True)
class _Upserts:
    url: sa.Executable
    video: sa.Executable


@functools.cache
def _upserts(dialect: str) -> _Upserts:
    """The upserts of a manifest row and of a video in `dialect`; a new row gets the next `seq`."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    url = insert(urls).values(seq=_next_seq(urls))
    url = url.on_conflict_do_update(index_elements=["location"], set_={k: url.excluded[k] for k in (
        "url", "video_id", "performance", "status", "error", "external_id", "updated_at")} | {
        # The most any submission listed the row again: rows never leave the report, as manifest rows don't.
        "repeats": sa.case((url.excluded.repeats > urls.c.repeats, url.excluded.repeats), else_=urls.c.repeats)})
    video = insert(videos).values(seq=_next_seq(videos))
    video = video.on_conflict_do_update(index_elements=["video_id"], set_={k: video.excluded[k] for k in (
        "performance", "status", "error", "duration_s", "faces", "start_s")})
    return _Upserts(url, video)
