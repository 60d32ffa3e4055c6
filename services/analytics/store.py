"""The analytics system of record: one SQLite file (WAL) of manifest rows, videos, appearances and names.

A manifest row is keyed by its location (where its bytes were read: an absolute path or an http(s) URL),
never by the manifest's spelling alone: `a.mp4` in two folders is two rows. The spelling is kept as `url`
for the report. Data dirs from before locations were kept are migrated on open: their rows are keyed by
their spelling until the row is next processed, which moves it to its location when the bytes match.

One connection guarded by a lock: writes are small and serialised anyway, and the lock makes the store
safe from gRPC worker threads and Flask request threads alike.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from influencers.boundary import is_video_id
from influencers.scores import score_problem
from services.analytics.records import (
    DONE,
    DUPLICATE,
    AppearanceRow,
    VideoRow,
    merge_appearances,
)

# Columns added after the first release: (table, column, declaration). face_ref: identity's reference of the
# crop (empty in old rows: such crops are fetched again by reference when re-clustering sends the ref alone);
# hidden: the analyst's "not an influencer"; segments: when the person is on screen (`[]` in old rows: the
# page draws first to last seen until the video is analysed again).
_ADDED_COLUMNS = (
    ("appearances", "face_ref", "TEXT NOT NULL DEFAULT ''"),
    ("names", "hidden", "INTEGER NOT NULL DEFAULT 0"),
    ("appearances", "segments", "TEXT NOT NULL DEFAULT '[]'"),
)


@dataclass(frozen=True)
class Label:
    """What the analyst said of an influencer (identity sends it with each correction): its display name
    ("" for none), "not an influencer" (hidden), or erased (deleted)."""

    influencer_id: str
    name: str = ""
    hidden: bool = False
    deleted: bool = False


_URLS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    location TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    video_id TEXT NOT NULL DEFAULT '',
    performance REAL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
)"""

_SCHEMA = _URLS_TABLE.format(name="urls") + """;
CREATE INDEX IF NOT EXISTS urls_by_url ON urls (url);
CREATE INDEX IF NOT EXISTS urls_by_video ON urls (video_id);
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    performance REAL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    duration_s REAL NOT NULL DEFAULT 0,
    faces INTEGER NOT NULL DEFAULT 0,
    location TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS appearances (
    video_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    first_seen_s REAL NOT NULL,
    last_seen_s REAL NOT NULL,
    faces INTEGER NOT NULL,
    screen_time_s REAL NOT NULL,
    face_quality REAL NOT NULL,
    best_face BLOB NOT NULL,
    ambiguous INTEGER NOT NULL,
    face_ref TEXT NOT NULL DEFAULT '',
    segments TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (video_id, influencer_id)
);
CREATE INDEX IF NOT EXISTS appearances_by_influencer ON appearances (influencer_id);
CREATE TABLE IF NOT EXISTS names (
    influencer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
"""

_APPEARANCE_COLUMNS = (
    "video_id, influencer_id, first_seen_s, last_seen_s, faces, screen_time_s, face_quality, best_face,"
    " ambiguous, face_ref, segments"
)

VIDEO_FRAME_COLUMNS = ["video_id", "url", "performance", "duration_s"]
APPEARANCE_FRAME_COLUMNS = [
    "video_id", "influencer_id", "first_seen_s", "last_seen_s", "faces", "screen_time_s", "face_quality",
    "ambiguous",
]


class AnalyticsStore:
    """SQLite-backed store. `path` is created (with its parent folder) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._writes = 0
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self._conn.executescript(_SCHEMA)
        self._add_columns()

    def _migrate(self) -> None:
        """Keys the manifest rows of a data dir from before locations were kept by their spelling (their
        location until next seen), and gives each video the location of its first row."""
        with self._transaction() as c:
            columns = {r[1] for r in c.execute("PRAGMA table_info(urls)")}
            if not columns or "location" in columns:
                return
            c.execute(_URLS_TABLE.format(name="urls_v2"))
            c.execute(
                "INSERT INTO urls_v2 (location, url, video_id, performance, status, error, external_id,"
                " updated_at) SELECT url, url, video_id, performance, status, error, external_id, updated_at"
                " FROM urls ORDER BY rowid"
            )
            c.execute("DROP TABLE urls")
            c.execute("ALTER TABLE urls_v2 RENAME TO urls")
            c.execute("ALTER TABLE videos ADD COLUMN location TEXT NOT NULL DEFAULT ''")
            c.execute("UPDATE videos SET location = url")

    def _add_columns(self) -> None:
        """Gives a data dir from before them the columns added since (each with its default for old rows)."""
        with self._transaction() as c:
            for table, column, declaration in _ADDED_COLUMNS:
                if column not in {r[1] for r in c.execute(f"PRAGMA table_info({table})")}:
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            c.execute("CREATE INDEX IF NOT EXISTS appearances_by_face_ref ON appearances (face_ref)"
                      " WHERE face_ref != ''")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def version(self) -> tuple[int, int]:
        """Changes whenever data changed: our own committed writes, or commits by another process."""
        with self._lock:
            (data_version,) = self._conn.execute("PRAGMA data_version").fetchone()
            return self._writes, int(data_version)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ---- writes -------------------------------------------------------------------------------------

    def record_video(self, row: VideoRow, appearances: Iterable[AppearanceRow] | None = None) -> bool:
        """Records one manifest row's outcome in one transaction; returns False when nothing changed.

        Rows are keyed by `row.key` (location, else url). DONE: upserts the video (its url and location
        stay those of the first row that produced it) and replaces all its appearances. DONE for content
        already done at another location is stored as DUPLICATE of it. DUPLICATE: only the manifest row,
        pointing at the existing video; a DUPLICATE of the video this very location produced refreshes
        that row's score and keeps it DONE. FAILED and others: the manifest row, and the video row when
        the video id is known and not already done; but a row that already has a result (DONE or
        DUPLICATE) keeps it, its video and its appearances: a done row only notes the error.
        `appearances` None (the service's way: identity's change feed is their source, see apply_changes)
        keeps the video's appearances as they are.
        Raises ValueError for a row without a URL, or DONE / DUPLICATE without a video id.
        """
        rows = _checked(row, appearances or ())
        keep = appearances is None
        with self._lock:
            changed = False
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._snapshot(row.key, row.video_id)
                self._apply_video(row, None if keep else rows)
                changed = self._snapshot(row.key, row.video_id) != before
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            # An unchanged record rolls back so that `updated_at` keeps the time of the last real change.
            self._conn.execute("COMMIT" if changed else "ROLLBACK")
            self._writes += int(changed)
            return changed

    def record_many(self, items: Iterable[tuple[VideoRow, Iterable[AppearanceRow]]]) -> int:
        """Records many manifest URLs exactly as successive record_video calls would, in one transaction
        (bulk imports, benchmarks). Returns how many changed something; one invalid row records none."""
        checked = [(row, _checked(row, appearances)) for row, appearances in items]
        with self._transaction() as c:
            changed = 0
            for row, rows in checked:
                # A savepoint per row keeps record_video's rule: an unchanged row leaves updated_at alone.
                c.execute("SAVEPOINT one")
                before = self._snapshot(row.key, row.video_id)
                self._apply_video(row, rows)
                same = self._snapshot(row.key, row.video_id) == before
                if same:
                    c.execute("ROLLBACK TO one")
                c.execute("RELEASE one")
                changed += int(not same)
            self._writes += int(changed > 0)
            return changed

    def _apply_video(self, row: VideoRow, appearances: list[AppearanceRow] | None) -> None:
        c = self._conn
        key = row.key
        current = c.execute("SELECT video_id, status FROM urls WHERE location = ?", (key,)).fetchone()
        if current is None and key != row.url and row.video_id:
            current = self._adopt(row)
        if row.status not in (DONE, DUPLICATE) and current is not None and current[1] in (DONE, DUPLICATE):
            # A failure on a rerun (a bad score, a file gone) never undoes the row's result.
            if current[1] == DONE:
                c.execute("UPDATE urls SET error = ?, updated_at = ? WHERE location = ?",
                          (row.error, time.time(), key))
            return
        existing = c.execute("SELECT location, status FROM videos WHERE video_id = ?", (row.video_id,)).fetchone()
        status = row.status
        if status == DUPLICATE and existing == (key, DONE):
            self._refresh(row)
            return
        if status == DONE and existing and existing[1] == DONE and existing[0] != key:
            status = DUPLICATE
        c.execute(
            "INSERT INTO urls (location, url, video_id, performance, status, error, external_id, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (location) DO UPDATE SET url = excluded.url,"
            " video_id = excluded.video_id, performance = excluded.performance, status = excluded.status,"
            " error = excluded.error, external_id = excluded.external_id, updated_at = excluded.updated_at",
            (key, row.url, row.video_id, row.performance, status, row.error, row.external_id, time.time()),
        )
        if current and current[0] and current[0] != row.video_id:
            self._detach(key, current[0])
        if not row.video_id or status == DUPLICATE:
            return
        if status == DONE:
            self._upsert_video(row, "")
            if appearances is not None:
                self._replace(row.video_id, appearances)
        elif not existing or existing[1] != DONE:
            self._upsert_video(row, row.error)

    def _adopt(self, row: VideoRow) -> tuple[str, int] | None:
        """A row migrated from before locations were kept (keyed by its spelling) that holds the same bytes
        is this row: it moves to the row's location. Returns its (video_id, status), or None."""
        c = self._conn
        legacy = c.execute("SELECT video_id, status FROM urls WHERE location = ? AND url = ?",
                           (row.url, row.url)).fetchone()
        if legacy is None or legacy[0] != row.video_id:
            return None
        c.execute("UPDATE urls SET location = ? WHERE location = ?", (row.location, row.url))
        c.execute("UPDATE videos SET location = ? WHERE video_id = ? AND location = ?",
                  (row.location, row.video_id, row.url))
        return legacy[0], legacy[1]

    def _refresh(self, row: VideoRow) -> None:
        """The row of a video's own location seen again: its score follows, its appearances stay."""
        c = self._conn
        c.execute("UPDATE urls SET url = ?, performance = ?, status = ?, error = '', external_id = ?,"
                  " updated_at = ? WHERE location = ?",
                  (row.url, row.performance, DONE, row.external_id, time.time(), row.key))
        c.execute("UPDATE videos SET performance = ? WHERE video_id = ? AND location = ?",
                  (row.performance, row.video_id, row.key))

    def _detach(self, location: str, video_id: str) -> None:
        """The location now gives other bytes: its old video moves to its next row, or goes when it has
        none."""
        c = self._conn
        owned = c.execute("SELECT 1 FROM videos WHERE video_id = ? AND location = ?",
                          (video_id, location)).fetchone()
        if owned is None:
            return
        heir = c.execute(
            "SELECT location, url FROM urls WHERE video_id = ? ORDER BY rowid LIMIT 1", (video_id,)
        ).fetchone()
        if heir:
            c.execute("UPDATE videos SET location = ?, url = ? WHERE video_id = ?", (heir[0], heir[1], video_id))
            # The heir was a duplicate of this video; now it is the row that stands for it.
            c.execute(
                "UPDATE urls SET status = ? WHERE location = ? AND status = ?"
                " AND (SELECT status FROM videos WHERE video_id = ?) = ?",
                (DONE, heir[0], DUPLICATE, video_id, DONE),
            )
        else:
            c.execute("DELETE FROM appearances WHERE video_id = ?", (video_id,))
            c.execute("DELETE FROM videos WHERE video_id = ?", (video_id,))

    def _upsert_video(self, row: VideoRow, error: str) -> None:
        self._conn.execute(
            "INSERT INTO videos (video_id, url, location, performance, status, error, duration_s, faces)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (video_id) DO UPDATE SET"
            " performance = excluded.performance, status = excluded.status, error = excluded.error,"
            " duration_s = excluded.duration_s, faces = excluded.faces",
            (row.video_id, row.url, row.key, row.performance, row.status, error, row.duration_s, row.faces),
        )

    def _replace(self, video_id: str, appearances: list[AppearanceRow]) -> None:
        self._conn.execute("DELETE FROM appearances WHERE video_id = ?", (video_id,))
        self._conn.executemany(
            f"INSERT INTO appearances ({_APPEARANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (video_id, a.influencer_id, a.first_seen_s, a.last_seen_s, a.faces, a.screen_time_s,
                 a.face_quality, a.best_face, int(a.ambiguous), a.face_ref, json.dumps(a.segments))
                for a in appearances
            ],
        )

    def _snapshot(self, key: str, video_id: str) -> tuple[object, ...]:
        c = self._conn
        url_row = c.execute(
            "SELECT url, video_id, performance, status, error, external_id FROM urls WHERE location = ?", (key,)
        ).fetchone()
        video = c.execute("SELECT * FROM videos WHERE video_id = ?", (video_id,)).fetchone()
        return url_row, video, self._appearances("video_id = ?", (video_id,))

    def update_performance(self, key: str, performance: float | None) -> bool:
        """Sets the score of the row keyed `key` (its location, or its url when it has none), and its
        video's when that row produced it; appearances stay. Clears the error a failed rerun noted on a
        done row. Returns False when nothing changed; KeyError for an unknown row."""
        with self._transaction() as c:
            found = c.execute("SELECT video_id, performance, status, error FROM urls WHERE location = ?",
                              (key,)).fetchone()
            if found is None:
                raise KeyError(key)
            noted = found[2] == DONE and found[3] != ""
            if found[1] == performance and not noted:
                return False
            c.execute("UPDATE urls SET performance = ?, error = CASE WHEN status = ? THEN '' ELSE error END,"
                      " updated_at = ? WHERE location = ?", (performance, DONE, time.time(), key))
            c.execute("UPDATE videos SET performance = ? WHERE video_id = ? AND location = ?",
                      (performance, found[0], key))
            self._writes += 1
            return True

    def replace_appearances(self, updates: dict[str, list[AppearanceRow]], names: dict[str, str],
                            labels: Iterable[Label] = ()) -> int:
        """Replaces the appearances of each known video in `updates` (by video id), upserts `names`, then
        applies `labels` as given (see apply_label), in one transaction. Returns how many videos were
        replaced; unknown video ids are skipped. A row with a face_ref and no best_face gets the crop
        already stored under that face_ref, if any (see missing_face_refs)."""
        with self._transaction() as c:
            replaced = 0
            for video_id, rows in updates.items():
                if c.execute("SELECT 1 FROM videos WHERE video_id = ?", (video_id,)).fetchone() is None:
                    continue
                fixed = [replace(a, video_id=video_id, best_face=a.best_face or self._crop(a.face_ref))
                         for a in rows]
                self._replace(video_id, merge_appearances(fixed))
                replaced += 1
            c.executemany(
                "INSERT INTO names (influencer_id, name) VALUES (?, ?)"
                " ON CONFLICT (influencer_id) DO UPDATE SET name = excluded.name",
                list(names.items()),
            )
            for label in labels:
                self._apply_label(label)
            self._writes += 1
            return replaced

    # ---- identity's change feed (feed-spec.md) ---------------------------------------------------------

    def feed_position(self) -> int:
        """The position of the last change of identity's feed applied here; 0 when none."""
        with self._lock:
            found = self._conn.execute("SELECT position FROM feed WHERE id = 1").fetchone()
        return int(found[0]) if found else 0

    def _set_feed_position(self, position: int) -> None:
        self._conn.execute("INSERT INTO feed (id, position) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET"
                           " position = excluded.position", (int(position),))

    def apply_changes(self, position: int, videos: dict[str, list[AppearanceRow]], names: dict[str, str],
                      labels: Iterable[Label] = (), forgotten: Iterable[str] = (), *, snapshot: bool = False
                      ) -> list[str]:
        """Applies one change of the feed in one transaction, together with moving feed_position to
        `position`. Idempotent: a position at or before feed_position() changes nothing and returns []
        (unless `snapshot`). Replaces the appearances of each video in `videos` (recorded or not: a video's
        appearances count in reads once it is recorded done), removes those of the `forgotten` videos,
        upserts `names`, then applies `labels` as replace_appearances does. A row with a face_ref and no
        best_face gets the crop already stored under that face_ref. Returns the face refs of these videos
        whose crop bytes are still missing (fill_crops). `snapshot`: a resync page, applied without the
        position check and without moving the position (end_snapshot moves it)."""
        with self._transaction() as c:
            if not snapshot:
                found = c.execute("SELECT position FROM feed WHERE id = 1").fetchone()
                if found and position <= int(found[0]):
                    return []
            for video_id in forgotten:
                c.execute("DELETE FROM appearances WHERE video_id = ?", (video_id,))
            for video_id, rows in videos.items():
                fixed = [replace(a, video_id=video_id, best_face=a.best_face or self._crop(a.face_ref))
                         for a in rows]
                self._replace(video_id, merge_appearances(fixed))
            c.executemany("INSERT INTO names (influencer_id, name) VALUES (?, ?)"
                          " ON CONFLICT (influencer_id) DO UPDATE SET name = excluded.name",
                          [(k, v) for k, v in names.items() if v])
            for label in labels:
                self._apply_label(label)
            if not snapshot:
                self._set_feed_position(position)
            self._writes += 1
            missing: set[str] = set()
            ids = list(videos)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                missing.update(r[0] for r in c.execute(
                    f"SELECT face_ref FROM appearances WHERE video_id IN ({', '.join('?' * len(chunk))})"
                    " AND face_ref != '' AND length(best_face) = 0", chunk))
            return sorted(missing)

    def end_snapshot(self, position: int, video_ids: Iterable[str]) -> None:
        """After the last snapshot page: removes the appearances of every video not in `video_ids` (the ids
        the snapshot carried) and sets feed_position to `position`, in one transaction."""
        keep = set(video_ids)
        with self._transaction() as c:
            present = {r[0] for r in c.execute("SELECT DISTINCT video_id FROM appearances")}
            c.executemany("DELETE FROM appearances WHERE video_id = ?", [(v,) for v in sorted(present - keep)])
            self._set_feed_position(position)
            self._writes += 1

    def fill_crops(self, crops: dict[str, bytes]) -> int:
        """Sets best_face of appearances whose face_ref is a key and whose best_face is empty; returns rows."""
        items = [(jpeg, ref) for ref, jpeg in crops.items() if ref and jpeg]
        if not items:
            return 0
        with self._transaction() as c:
            before = c.total_changes
            c.executemany("UPDATE appearances SET best_face = ? WHERE face_ref = ? AND length(best_face) = 0", items)
            self._writes += 1
            return c.total_changes - before

    def _apply_label(self, label: Label) -> None:
        """A label set by hand, as given: the name ("" clears it) and the hidden flag; an erased influencer
        loses every row (its appearances, their crops, its name)."""
        c = self._conn
        if label.deleted:
            c.execute("DELETE FROM appearances WHERE influencer_id = ?", (label.influencer_id,))
            c.execute("DELETE FROM names WHERE influencer_id = ?", (label.influencer_id,))
        elif label.name or label.hidden:
            c.execute("INSERT INTO names (influencer_id, name, hidden) VALUES (?, ?, ?) ON CONFLICT (influencer_id)"
                      " DO UPDATE SET name = excluded.name, hidden = excluded.hidden",
                      (label.influencer_id, label.name, int(label.hidden)))
        else:
            c.execute("DELETE FROM names WHERE influencer_id = ?", (label.influencer_id,))

    def _crop(self, face_ref: str) -> bytes:
        """The crop stored under `face_ref` (b"" when none is)."""
        if not face_ref:
            return b""
        found = self._conn.execute("SELECT best_face FROM appearances WHERE face_ref = ? AND length(best_face) > 0"
                                   " LIMIT 1", (face_ref,)).fetchone()
        return bytes(found[0]) if found else b""

    # ---- reads --------------------------------------------------------------------------------------

    def missing_face_refs(self, video_ids: Iterable[str]) -> list[str]:
        """The face refs of these videos' appearances that have no crop bytes, sorted."""
        ids = list(dict.fromkeys(video_ids))
        missing: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):  # well under SQLite's limit of bound parameters
                chunk = ids[start:start + 500]
                missing.update(r[0] for r in self._conn.execute(
                    f"SELECT face_ref FROM appearances WHERE video_id IN ({', '.join('?' * len(chunk))})"
                    " AND face_ref != '' AND length(best_face) = 0", chunk))
        return sorted(missing)

    _URL_SELECT = (
        "SELECT u.url, u.video_id, u.performance, u.status, u.error, COALESCE(v.duration_s, 0),"
        " COALESCE(v.faces, 0), u.external_id, u.location FROM urls u LEFT JOIN videos v"
        " ON v.video_id = u.video_id AND u.video_id != ''"
    )

    def get_video(self, url: str | None = None, video_id: str | None = None,
                  location: str | None = None) -> VideoRow | None:
        """By `location`: the manifest row keyed so (see VideoRow.key). By `url`: the first manifest row
        written so (two folders may both have `a.mp4`). By `video_id`: the content, under the first row
        that produced it."""
        with self._lock:
            if location is not None:
                found = self._conn.execute(self._URL_SELECT + " WHERE u.location = ?", (location,)).fetchone()
            elif url is not None:
                found = self._conn.execute(self._URL_SELECT + " WHERE u.url = ? ORDER BY u.rowid LIMIT 1",
                                           (url,)).fetchone()
            elif video_id:
                found = self._conn.execute(
                    "SELECT v.url, v.video_id, v.performance, v.status, v.error, v.duration_s, v.faces,"
                    " COALESCE(u.external_id, ''), v.location FROM videos v LEFT JOIN urls u"
                    " ON u.location = v.location WHERE v.video_id = ?",
                    (video_id,),
                ).fetchone()
            else:
                found = None
        return VideoRow(*found) if found else None

    def list_videos(self, statuses: Iterable[int] = ()) -> list[VideoRow]:
        """One row per manifest row (location), in the order first recorded; all statuses when `statuses`
        is empty."""
        wanted = list(statuses)
        sql = self._URL_SELECT
        if wanted:
            sql += f" WHERE u.status IN ({', '.join('?' * len(wanted))})"
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY u.rowid", wanted).fetchall()
        return [VideoRow(*r) for r in found]

    def list_videos_page(self, statuses: Iterable[int] = (), after: int = 0, limit: int = 1000
                         ) -> tuple[list[VideoRow], int]:
        """Up to `limit` rows of list_videos() that come after position `after` (0: from the start), and
        the position to continue from (0 after the last row). Positions are opaque to callers."""
        wanted = list(statuses)
        sql = self._URL_SELECT.replace("SELECT ", "SELECT u.rowid, ", 1) + " WHERE u.rowid > ?"
        if wanted:
            sql += f" AND u.status IN ({', '.join('?' * len(wanted))})"
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY u.rowid LIMIT ?", [after, *wanted, limit + 1]).fetchall()
        rows = found[:limit]
        more = len(found) > limit
        return [VideoRow(*r[1:]) for r in rows], (rows[-1][0] if more else 0)

    def video_frame(self) -> pd.DataFrame:
        """DONE videos, one row per video id: video_id, url (first URL), performance, duration_s."""
        with self._lock:
            return pd.read_sql_query(
                f"SELECT {', '.join(VIDEO_FRAME_COLUMNS)} FROM videos WHERE status = ? ORDER BY rowid",
                self._conn, params=(DONE,),
            ).astype({"performance": "float64", "duration_s": "float64"})

    def appearance_frame(self) -> pd.DataFrame:
        """Appearances in DONE videos, without the face images."""
        cols = ", ".join(f"a.{c}" for c in APPEARANCE_FRAME_COLUMNS)
        with self._lock:
            frame = pd.read_sql_query(
                f"SELECT {cols} FROM appearances a JOIN videos v ON v.video_id = a.video_id"
                " WHERE v.status = ? ORDER BY v.rowid, a.influencer_id",
                self._conn, params=(DONE,),
            )
        return frame.astype({"ambiguous": "bool", "screen_time_s": "float64", "faces": "int64"})

    def best_face(self, influencer_id: str) -> bytes | None:
        """The JPEG of the highest-quality face over all of this influencer's appearances."""
        with self._lock:
            found = self._conn.execute(
                "SELECT best_face FROM appearances WHERE influencer_id = ? AND length(best_face) > 0"
                f" AND video_id IN (SELECT video_id FROM videos WHERE status = {DONE})"
                " ORDER BY face_quality DESC, video_id LIMIT 1",
                (influencer_id,),
            ).fetchone()
        return bytes(found[0]) if found else None

    def appearance_face(self, video_id: str, influencer_id: str) -> bytes | None:
        with self._lock:
            found = self._conn.execute(
                "SELECT best_face FROM appearances WHERE video_id = ? AND influencer_id = ?"
                " AND length(best_face) > 0",
                (video_id, influencer_id),
            ).fetchone()
        return bytes(found[0]) if found else None

    def names(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT influencer_id, name FROM names WHERE name != ''").fetchall())

    def hidden(self) -> set[str]:
        """Influencers the analyst marked "not an influencer": kept, but left out of statistics and model."""
        with self._lock:
            return {r[0] for r in self._conn.execute("SELECT influencer_id FROM names WHERE hidden != 0")}

    def appearances_of(self, influencer_id: str) -> list[AppearanceRow]:
        with self._lock:
            return self._appearances("influencer_id = ?", (influencer_id,))

    def appearances_in(self, video_id: str) -> list[AppearanceRow]:
        with self._lock:
            return self._appearances("video_id = ?", (video_id,))

    def _appearances(self, where: str, params: tuple[object, ...]) -> list[AppearanceRow]:
        """Appearances in videos recorded done (the feed may bring a video's appearances before RecordVideo)."""
        found = self._conn.execute(
            f"SELECT {_APPEARANCE_COLUMNS} FROM appearances WHERE {where} AND video_id IN"
            f" (SELECT video_id FROM videos WHERE status = {DONE}) ORDER BY video_id, influencer_id",
            params,
        ).fetchall()
        return [
            AppearanceRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]), bool(r[8]), r[9],
                          _segments(r[10])) for r in found
        ]


def _segments(text: str) -> tuple[tuple[float, float, float], ...]:
    """The segments column (a JSON list of [start_s, end_s, best_s]) as AppearanceRow keeps them."""
    return tuple((float(s), float(e), float(b)) for s, e, b in json.loads(text or "[]"))


def _checked(row: VideoRow, appearances: Iterable[AppearanceRow]) -> list[AppearanceRow]:
    """The row's appearances merged and keyed to its video id; ValueError for a row record_video refuses."""
    if not row.url:
        raise ValueError("a video row needs its manifest url")
    if row.status in (DONE, DUPLICATE) and not row.video_id:
        raise ValueError(f"{row.url}: a done or duplicate video needs its video_id")
    if row.video_id and not is_video_id(row.video_id):
        raise ValueError(f"{row.url}: video_id {row.video_id[:40]!r} is not 16 hex digits")
    # The score rule without its sign: synthetic rows written straight to the store are centred on zero.
    if problem := score_problem(row.performance, allow_negative=True):
        raise ValueError(f"{row.url}: {problem}")
    return merge_appearances([replace(a, video_id=row.video_id) for a in appearances])
