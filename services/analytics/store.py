"""The analytics system of record: one SQLite file (WAL) of manifest URLs, videos, appearances and names.

One connection guarded by a lock: writes are small and serialised anyway, and the lock makes the store
safe from gRPC worker threads and Flask request threads alike.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd

from services.analytics.records import DONE, DUPLICATE, AppearanceRow, VideoRow, merge_appearances

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    video_id TEXT NOT NULL DEFAULT '',
    performance REAL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    performance REAL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    duration_s REAL NOT NULL DEFAULT 0,
    faces INTEGER NOT NULL DEFAULT 0
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
    PRIMARY KEY (video_id, influencer_id)
);
CREATE INDEX IF NOT EXISTS appearances_by_influencer ON appearances (influencer_id);
CREATE TABLE IF NOT EXISTS names (
    influencer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
"""

_APPEARANCE_COLUMNS = (
    "video_id, influencer_id, first_seen_s, last_seen_s, faces, screen_time_s, face_quality, best_face,"
    " ambiguous"
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
        self._conn.executescript(_SCHEMA)

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

    def record_video(self, row: VideoRow, appearances: Iterable[AppearanceRow] = ()) -> bool:
        """Records one manifest URL's outcome in one transaction; returns False when nothing changed.

        DONE: upserts the video (its `url` stays the first URL that produced it) and replaces all its
        appearances. DONE for content already done under another URL is stored as DUPLICATE of it.
        DUPLICATE: only the URL row, pointing at the existing video. FAILED and others: the URL row, and
        the video row when the video id is known and not already done.
        Raises ValueError for a row without a URL, or DONE / DUPLICATE without a video id.
        """
        rows = _checked(row, appearances)
        with self._lock:
            changed = False
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._snapshot(row.url, row.video_id)
                self._apply_video(row, rows)
                changed = self._snapshot(row.url, row.video_id) != before
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
                before = self._snapshot(row.url, row.video_id)
                self._apply_video(row, rows)
                same = self._snapshot(row.url, row.video_id) == before
                if same:
                    c.execute("ROLLBACK TO one")
                c.execute("RELEASE one")
                changed += int(not same)
            self._writes += int(changed > 0)
            return changed

    def _apply_video(self, row: VideoRow, appearances: list[AppearanceRow]) -> None:
        c = self._conn
        existing = c.execute("SELECT url, status FROM videos WHERE video_id = ?", (row.video_id,)).fetchone()
        status = row.status
        if status == DONE and existing and existing[1] == DONE and existing[0] != row.url:
            status = DUPLICATE
        previous = c.execute("SELECT video_id FROM urls WHERE url = ?", (row.url,)).fetchone()
        c.execute(
            "INSERT INTO urls (url, video_id, performance, status, error, external_id, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET video_id = excluded.video_id,"
            " performance = excluded.performance, status = excluded.status, error = excluded.error,"
            " external_id = excluded.external_id, updated_at = excluded.updated_at",
            (row.url, row.video_id, row.performance, status, row.error, row.external_id, time.time()),
        )
        if previous and previous[0] and previous[0] != row.video_id:
            self._detach(row.url, previous[0])
        if not row.video_id or status == DUPLICATE:
            return
        if status == DONE:
            self._upsert_video(row, "")
            self._replace(row.video_id, appearances)
        elif not existing or existing[1] != DONE:
            self._upsert_video(row, row.error)

    def _detach(self, url: str, video_id: str) -> None:
        """The URL now gives other bytes: its old video moves to its next URL, or goes when it has none."""
        c = self._conn
        owned = c.execute("SELECT 1 FROM videos WHERE video_id = ? AND url = ?", (video_id, url)).fetchone()
        if owned is None:
            return
        heir = c.execute(
            "SELECT url FROM urls WHERE video_id = ? ORDER BY rowid LIMIT 1", (video_id,)
        ).fetchone()
        if heir:
            c.execute("UPDATE videos SET url = ? WHERE video_id = ?", (heir[0], video_id))
            # The heir was a duplicate of this video; now it is the URL that stands for it.
            c.execute(
                "UPDATE urls SET status = ? WHERE url = ? AND status = ?"
                " AND (SELECT status FROM videos WHERE video_id = ?) = ?",
                (DONE, heir[0], DUPLICATE, video_id, DONE),
            )
        else:
            c.execute("DELETE FROM appearances WHERE video_id = ?", (video_id,))
            c.execute("DELETE FROM videos WHERE video_id = ?", (video_id,))

    def _upsert_video(self, row: VideoRow, error: str) -> None:
        self._conn.execute(
            "INSERT INTO videos (video_id, url, performance, status, error, duration_s, faces)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (video_id) DO UPDATE SET"
            " performance = excluded.performance, status = excluded.status, error = excluded.error,"
            " duration_s = excluded.duration_s, faces = excluded.faces",
            (row.video_id, row.url, row.performance, row.status, error, row.duration_s, row.faces),
        )

    def _replace(self, video_id: str, appearances: list[AppearanceRow]) -> None:
        self._conn.execute("DELETE FROM appearances WHERE video_id = ?", (video_id,))
        self._conn.executemany(
            f"INSERT INTO appearances ({_APPEARANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (video_id, a.influencer_id, a.first_seen_s, a.last_seen_s, a.faces, a.screen_time_s,
                 a.face_quality, a.best_face, int(a.ambiguous))
                for a in appearances
            ],
        )

    def _snapshot(self, url: str, video_id: str) -> tuple[object, ...]:
        c = self._conn
        url_row = c.execute(
            "SELECT video_id, performance, status, error, external_id FROM urls WHERE url = ?", (url,)
        ).fetchone()
        video = c.execute("SELECT * FROM videos WHERE video_id = ?", (video_id,)).fetchone()
        return url_row, video, self._appearances("video_id = ?", (video_id,))

    def update_performance(self, url: str, performance: float | None) -> bool:
        """Sets a URL's score, and its video's when that URL is the video's first; appearances stay.
        Returns False for an unknown URL or an unchanged score."""
        with self._transaction() as c:
            found = c.execute("SELECT video_id, performance FROM urls WHERE url = ?", (url,)).fetchone()
            if found is None or found[1] == performance:
                return False
            c.execute("UPDATE urls SET performance = ?, updated_at = ? WHERE url = ?",
                      (performance, time.time(), url))
            c.execute("UPDATE videos SET performance = ? WHERE video_id = ? AND url = ?",
                      (performance, found[0], url))
            self._writes += 1
            return True

    def replace_appearances(self, updates: dict[str, list[AppearanceRow]], names: dict[str, str]) -> int:
        """Replaces the appearances of each known video in `updates` (by video id) and upserts `names`,
        in one transaction. Returns how many videos were replaced; unknown video ids are skipped."""
        with self._transaction() as c:
            replaced = 0
            for video_id, rows in updates.items():
                if c.execute("SELECT 1 FROM videos WHERE video_id = ?", (video_id,)).fetchone() is None:
                    continue
                fixed = [replace(a, video_id=video_id) for a in rows]
                self._replace(video_id, merge_appearances(fixed))
                replaced += 1
            c.executemany(
                "INSERT INTO names (influencer_id, name) VALUES (?, ?)"
                " ON CONFLICT (influencer_id) DO UPDATE SET name = excluded.name",
                list(names.items()),
            )
            self._writes += 1
            return replaced

    # ---- reads --------------------------------------------------------------------------------------

    _URL_SELECT = (
        "SELECT u.url, u.video_id, u.performance, u.status, u.error, COALESCE(v.duration_s, 0),"
        " COALESCE(v.faces, 0), u.external_id FROM urls u LEFT JOIN videos v ON v.video_id = u.video_id"
        " AND u.video_id != ''"
    )

    def get_video(self, url: str | None = None, video_id: str | None = None) -> VideoRow | None:
        """By `url`: that manifest row. By `video_id`: the content, under the first URL that produced it."""
        with self._lock:
            if url is not None:
                found = self._conn.execute(self._URL_SELECT + " WHERE u.url = ?", (url,)).fetchone()
            elif video_id:
                found = self._conn.execute(
                    "SELECT v.url, v.video_id, v.performance, v.status, v.error, v.duration_s, v.faces,"
                    " COALESCE(u.external_id, '') FROM videos v LEFT JOIN urls u ON u.url = v.url"
                    " WHERE v.video_id = ?",
                    (video_id,),
                ).fetchone()
            else:
                found = None
        return VideoRow(*found) if found else None

    def list_videos(self, statuses: Iterable[int] = ()) -> list[VideoRow]:
        """One row per manifest URL, in the order first recorded; all statuses when `statuses` is empty."""
        wanted = list(statuses)
        sql = self._URL_SELECT
        if wanted:
            sql += f" WHERE u.status IN ({', '.join('?' * len(wanted))})"
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY u.rowid", wanted).fetchall()
        return [VideoRow(*r) for r in found]

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
            return dict(self._conn.execute("SELECT influencer_id, name FROM names").fetchall())

    def appearances_of(self, influencer_id: str) -> list[AppearanceRow]:
        with self._lock:
            return self._appearances("influencer_id = ?", (influencer_id,))

    def appearances_in(self, video_id: str) -> list[AppearanceRow]:
        with self._lock:
            return self._appearances("video_id = ?", (video_id,))

    def _appearances(self, where: str, params: tuple[object, ...]) -> list[AppearanceRow]:
        found = self._conn.execute(
            f"SELECT {_APPEARANCE_COLUMNS} FROM appearances WHERE {where} ORDER BY video_id, influencer_id",
            params,
        ).fetchall()
        return [
            AppearanceRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]), bool(r[8])) for r in found
        ]


def _checked(row: VideoRow, appearances: Iterable[AppearanceRow]) -> list[AppearanceRow]:
    """The row's appearances merged and keyed to its video id; ValueError for a row record_video refuses."""
    if not row.url:
        raise ValueError("a video row needs its manifest url")
    if row.status in (DONE, DUPLICATE) and not row.video_id:
        raise ValueError(f"{row.url}: a done or duplicate video needs its video_id")
    return merge_appearances([replace(a, video_id=row.video_id) for a in appearances])
