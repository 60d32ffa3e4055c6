"""Read models of the analytics store: manifest rows, videos, appearances and names as the report, the page,
the export and the gRPC service read them.

Appearances count only in videos recorded done: identity's feed may deliver a video's appearances before
its RecordVideo (or for a video that failed), and such rows wait, unseen, until the video is done. Every
read is one statement (one transaction), so a page of results is consistent with itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store_schema import appearances, names, reposts, state, urls, videos
from services.common.location_key import location_key
from services.common.url_secrets import secrets_hidden

VIDEO_FRAME_COLUMNS = ["video_id", "url", "performance", "duration_s"]
APPEARANCE_FRAME_COLUMNS = [
    "video_id", "influencer_id", "first_seen_s", "last_seen_s", "faces", "screen_time_s", "face_quality",
    "ambiguous",
]
CHUNK = 500  # ids bound in one IN (...): well under SQLite's and PostgreSQL's limits of parameters

_APPEARANCE_SELECT = [appearances.c[name] for name in (
    "video_id", "influencer_id", "first_seen_s", "last_seen_s", "faces", "screen_time_s", "face_quality",
    "best_face", "ambiguous", "face_ref", "segments")]
# Manifest rows with their video's duration, faces and start (a row without a video id, or failed before one: 0).
_URL_SELECT = sa.select(
    urls.c.url, urls.c.video_id, urls.c.performance, urls.c.status, urls.c.error,
    sa.func.coalesce(videos.c.duration_s, sa.literal(0.0)), sa.func.coalesce(videos.c.faces, sa.literal(0)),
    urls.c.external_id, urls.c.location, urls.c.repeats, sa.func.coalesce(videos.c.start_s, sa.literal(0.0)),
).select_from(urls.outerjoin(videos, sa.and_(videos.c.video_id == urls.c.video_id, urls.c.video_id != "")))
# Per row, a lookup of its video by primary key (an IN (subquery) would list every done video per call).
_IN_DONE_VIDEO = sa.exists().where(videos.c.video_id == appearances.c.video_id, videos.c.status == DONE)
_HAS_FACE = sa.func.length(appearances.c.best_face) > 0
# Statements of the calls a page makes many times, built once (building one costs more than running it).
_BY_LOCATION = _URL_SELECT.where(urls.c.location == sa.bindparam("key"))
_BY_URL = _URL_SELECT.where(urls.c.url == sa.bindparam("key")).order_by(urls.c.seq).limit(1)
_VIDEO_SELECT = sa.select(
    videos.c.url, videos.c.video_id, videos.c.performance, videos.c.status, videos.c.error, videos.c.duration_s,
    videos.c.faces, sa.func.coalesce(urls.c.external_id, ""), videos.c.location, sa.literal(0), videos.c.start_s,
).select_from(videos.outerjoin(urls, urls.c.location == videos.c.location))
_BY_VIDEO_ID = _VIDEO_SELECT.where(videos.c.video_id == sa.bindparam("key"))
_BY_VIDEO_IDS = _VIDEO_SELECT.where(videos.c.video_id.in_(sa.bindparam("keys", expanding=True)))
_ROWS_OF_VIDEO = _URL_SELECT.where(urls.c.video_id == sa.bindparam("key")).order_by(urls.c.seq)
_VERSION = sa.select(state.c.revision, state.c.feed_position)
_BEST_FACE = sa.select(appearances.c.best_face).where(
    appearances.c.influencer_id == sa.bindparam("influencer"), _HAS_FACE, _IN_DONE_VIDEO,
).order_by(appearances.c.face_quality.desc(), appearances.c.video_id).limit(1)
_APPEARANCE_FACE = sa.select(appearances.c.best_face).where(
    appearances.c.video_id == sa.bindparam("video"), appearances.c.influencer_id == sa.bindparam("influencer"),
    _HAS_FACE, _IN_DONE_VIDEO)
_ROWS_SELECT = sa.select(*_APPEARANCE_SELECT).where(_IN_DONE_VIDEO).order_by(appearances.c.video_id,
                                                                                 appearances.c.influencer_id)
_ROWS_OF = _ROWS_SELECT.where(appearances.c.influencer_id == sa.bindparam("key"))
_ROWS_IN = _ROWS_SELECT.where(appearances.c.video_id == sa.bindparam("key"))
_NAMES = sa.select(names.c.influencer_id, names.c.name).where(names.c.name != "")
_HIDDEN = sa.select(names.c.influencer_id).where(names.c.hidden != 0)


class StoreReads:
    """The reads of AnalyticsStore over an engine (SQLite or PostgreSQL). On SQLite one lock orders every
    call of this process, as one connection did (waiters wake at once, not on SQLite's busy-wait)."""

    def __init__(self, engine: Engine, lock: threading.RLock | None) -> None:
        self._engine = engine
        self._lock = lock
        self._closed = False

    def _locked(self) -> AbstractContextManager[object]:
        return self._lock if self._lock is not None else nullcontext()

    def _connect(self) -> Connection:
        if self._closed:  # an engine disposed of would quietly open new connections
            raise sa.exc.ResourceClosedError("the analytics store is closed")
        return self._engine.connect()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._locked(), self._connect() as connection:
            yield connection

    def version(self) -> tuple[int, int]:
        """Changes whenever data changed, by this process or another: (revision, feed position)."""
        with self._reading() as c:
            revision, position = c.execute(_VERSION).one()
        return int(revision), int(position)

    def repost_of(self, video_id: str) -> str:
        """The UTC date of the erasure of a person seen again in this video (a repost), or ""."""
        with self._reading() as c:
            return str(c.execute(sa.select(reposts.c.erased_utc).where(reposts.c.video_id == video_id)).scalar()
                       or "")

    def feed_position(self) -> int:
        """The position of the last change of identity's feed applied here; 0 when none."""
        with self._reading() as c:
            return int(c.execute(sa.select(state.c.feed_position)).scalar_one())

    def feed_id(self) -> str:
        """The identity of the feed whose position feed_position() is (ListChangesResponse.feed_id); "" when
        none was stored (nothing applied yet, or a store from before feed ids)."""
        with self._reading() as c:
            return str(c.execute(sa.select(state.c.feed_id)).scalar_one())

    def feed_digest(self) -> str:
        """The fingerprint of the change at feed_position() as identity sent it (Change.digest); "" when none
        was (an older identity, a store from before fingerprints, or a snapshot of an empty feed)."""
        with self._reading() as c:
            return str(c.execute(sa.select(state.c.feed_digest)).scalar_one())

    def missing_face_refs(self, video_ids: Iterable[str]) -> list[str]:
        """The face refs of these videos' appearances that have no crop bytes, sorted (recorded or not: a
        crop fetched early is there when the video is)."""
        with self._reading() as c:
            return missing_face_refs(c, video_ids)

    def get_video(self, url: str | None = None, video_id: str | None = None,
                  location: str | None = None) -> VideoRow | None:
        """By `location`: the manifest row keyed so (see VideoRow.key). By `url`: the first manifest row
        written so (two folders may both have `a.mp4`). By `video_id`: the content, under the first row
        that produced it."""
        if location is not None:
            query, key = _BY_LOCATION, location_key(location)
        elif url is not None:
            query, key = _BY_URL, secrets_hidden(url)  # as the store keeps it (records.secrets_kept_out)
        elif video_id:
            query, key = _BY_VIDEO_ID, video_id
        else:
            return None
        with self._reading() as c:
            found = c.execute(query, {"key": key}).first()
        return VideoRow(*found) if found else None

    def list_videos(self, statuses: Iterable[int] = ()) -> list[VideoRow]:
        """One row per manifest row (location), in the order first recorded; all statuses when `statuses`
        is empty."""
        wanted = _distinct(statuses)
        query = _URL_SELECT.order_by(urls.c.seq)
        if wanted:
            query = query.where(urls.c.status.in_(wanted))
        with self._reading() as c:
            return [VideoRow(*r) for r in c.execute(query)]

    def videos_by_id(self, video_ids: Iterable[str]) -> dict[str, VideoRow]:
        """get_video(video_id=...) of many videos in a few queries (CHUNK ids each), by id; ids not stored
        are left out."""
        ids = list(dict.fromkeys(video_ids))
        found: dict[str, VideoRow] = {}
        with self._reading() as c:
            for start in range(0, len(ids), CHUNK):
                for r in c.execute(_BY_VIDEO_IDS, {"keys": ids[start:start + CHUNK]}):
                    found.setdefault(r[1], VideoRow(*r))
        return found

    def rows_of_video(self, video_id: str) -> list[VideoRow]:
        """The manifest rows (locations) that gave the video `video_id`'s bytes, in the order first recorded:
        list_videos() of one video, through the index on urls.video_id (a page and each byte range of its
        player ask, and a catalogue has 10^4 rows and more)."""
        if not video_id:
            return []
        with self._reading() as c:
            return [VideoRow(*r) for r in c.execute(_ROWS_OF_VIDEO, {"key": video_id})]

    def list_videos_page(self, statuses: Iterable[int] = (), after: int = 0, limit: int = 1000
                         ) -> tuple[list[VideoRow], int]:
        """Up to `limit` rows of list_videos() that come after position `after` (0: from the start), and
        the position to continue from (0 after the last row). Positions are opaque to callers."""
        wanted = _distinct(statuses)
        query = _URL_SELECT.add_columns(urls.c.seq).where(urls.c.seq > after)
        if wanted:
            query = query.where(urls.c.status.in_(wanted))
        with self._reading() as c:
            found = c.execute(query.order_by(urls.c.seq).limit(limit + 1)).all()
        rows = found[:limit]
        more = len(found) > limit
        return [VideoRow(*r[:-1]) for r in rows], (int(rows[-1][-1]) if more else 0)

    def video_frame(self) -> pd.DataFrame:
        """DONE videos, one row per video id: video_id, url (first URL), performance, duration_s."""
        query = sa.select(*(videos.c[n] for n in VIDEO_FRAME_COLUMNS)).where(videos.c.status == DONE).order_by(
            videos.c.seq)
        with self._reading() as c:
            rows = [tuple(r) for r in c.execute(query)]
        return pd.DataFrame.from_records(rows, columns=VIDEO_FRAME_COLUMNS, coerce_float=True).astype(
            {"performance": "float64", "duration_s": "float64"})

    def appearance_frame(self) -> pd.DataFrame:
        """Appearances in DONE videos, without the face images."""
        query = sa.select(*(appearances.c[n] for n in APPEARANCE_FRAME_COLUMNS)).join(
            videos, videos.c.video_id == appearances.c.video_id).where(videos.c.status == DONE).order_by(
            videos.c.seq, appearances.c.influencer_id)
        with self._reading() as c:
            rows = [tuple(r) for r in c.execute(query)]
        frame = pd.DataFrame.from_records(rows, columns=APPEARANCE_FRAME_COLUMNS, coerce_float=True)
        return frame.astype({"ambiguous": "bool", "screen_time_s": "float64", "faces": "int64"})

    def best_face(self, influencer_id: str) -> bytes | None:
        """The JPEG of the highest-quality face over all of this influencer's appearances in done videos."""
        with self._reading() as c:
            found = c.execute(_BEST_FACE, {"influencer": influencer_id}).scalar()
        return bytes(found) if found is not None else None

    def appearance_face(self, video_id: str, influencer_id: str) -> bytes | None:
        with self._reading() as c:
            found = c.execute(_APPEARANCE_FACE, {"video": video_id, "influencer": influencer_id}).scalar()
        return bytes(found) if found is not None else None

    def names(self) -> dict[str, str]:
        with self._reading() as c:
            return {i: n for i, n in c.execute(_NAMES)}

    def hidden(self) -> set[str]:
        """Influencers the analyst marked "not an influencer": kept, but left out of statistics and model."""
        with self._reading() as c:
            return set(c.execute(_HIDDEN).scalars())

    def appearances_of(self, influencer_id: str) -> list[AppearanceRow]:
        """This influencer's appearances in done videos, by video id."""
        with self._reading() as c:
            return _appearance_rows(c.execute(_ROWS_OF, {"key": influencer_id}))

    def appearances_in(self, video_id: str) -> list[AppearanceRow]:
        """The appearances of a done video, by influencer id ([] until the video is recorded done)."""
        with self._reading() as c:
            return _appearance_rows(c.execute(_ROWS_IN, {"key": video_id}))


def _appearance_rows(found: Iterable[sa.Row[Any]]) -> list[AppearanceRow]:
    return [AppearanceRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes(r[7]), bool(r[8]), r[9],
                          _segments(r[10])) for r in found]


def missing_face_refs(c: Connection, video_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(video_ids))
    missing: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        missing.update(c.execute(sa.select(appearances.c.face_ref).where(
            appearances.c.video_id.in_(ids[start:start + CHUNK]), appearances.c.face_ref != "",
            sa.func.length(appearances.c.best_face) == 0)).scalars())
    return sorted(missing)


def _segments(text: str) -> tuple[tuple[float, float, float], ...]:
    """The segments column (a JSON list of [start_s, end_s, best_s]) as AppearanceRow keeps them."""
    return tuple((float(s), float(e), float(b)) for s, e, b in json.loads(text or "[]"))


def _distinct(statuses: Iterable[int]) -> list[int]:
    """Each status once: a caller's list may repeat one a million times (gRPC ListVideos), and one bound
    parameter each took SQLite past its limit of variables (INTERNAL)."""
    return sorted(set(statuses))
