"""Analytics stores as an older release left them, for the tests of the migrations that follow: the schema
migrated up to a past revision, then rows written straight into its tables, as that release's store did."""

from __future__ import annotations

from alembic import command

from services.analytics.records import DONE
from services.analytics.store_schema import HISTORY, urls, videos
from services.common.database import open_engine

OldRow = tuple[str, str, str, str]  # (location, url, video_id ("" for none), status)

# The tables of data dirs from before alembic, as their SQLite files hold them, for the tests of what the store
# makes of such a file. Before locations: urls keyed by the URL, and videos with no location.
URLS_VIDEOS_BEFORE_LOCATIONS = """
    CREATE TABLE urls (url TEXT PRIMARY KEY, video_id TEXT NOT NULL DEFAULT '', performance REAL,
        status INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '', external_id TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL);
    CREATE TABLE videos (video_id TEXT PRIMARY KEY, url TEXT NOT NULL, performance REAL,
        status INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '', duration_s REAL NOT NULL DEFAULT 0,
        faces INTEGER NOT NULL DEFAULT 0);
"""
# The release before alembic: urls keyed by location, and videos with theirs.
URLS_VIDEOS_BEFORE_ALEMBIC = """
    CREATE TABLE urls (location TEXT PRIMARY KEY, url TEXT NOT NULL, video_id TEXT NOT NULL DEFAULT '',
        performance REAL, status INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '',
        external_id TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL);
    CREATE TABLE videos (video_id TEXT PRIMARY KEY, url TEXT NOT NULL, performance REAL,
        status INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '', duration_s REAL NOT NULL DEFAULT 0,
        faces INTEGER NOT NULL DEFAULT 0, location TEXT NOT NULL DEFAULT '');
"""
# Appearances before face refs, and with them (before segments).
_APPEARANCES = """
    CREATE TABLE appearances (video_id TEXT NOT NULL, influencer_id TEXT NOT NULL,
        first_seen_s REAL NOT NULL, last_seen_s REAL NOT NULL, faces INTEGER NOT NULL,
        screen_time_s REAL NOT NULL, face_quality REAL NOT NULL, best_face BLOB NOT NULL,
        ambiguous INTEGER NOT NULL{face_ref}, PRIMARY KEY (video_id, influencer_id));
"""
APPEARANCES_BEFORE_FACE_REFS = _APPEARANCES.format(face_ref="")
APPEARANCES_BEFORE_SEGMENTS = _APPEARANCES.format(face_ref=", face_ref TEXT NOT NULL DEFAULT ''")


def store_at(db_url: str, revision: str, rows: list[OldRow], error: str = "") -> None:
    """The store at `db_url` migrated to `revision`, holding `rows` in urls (a failed one with `error`) and, for
    each with a video, that video done in videos, in their order."""
    engine = open_engine(db_url)
    try:
        with engine.connect() as c, c.begin():
            command.upgrade(HISTORY.config(c), revision)
            c.execute(urls.insert(), [
                dict(location=location, url=url, video_id=video_id, performance=1.0, status=status,
                     error=error if status != DONE else "", external_id="", updated_at=1.0, seq=k, repeats=0)
                for k, (location, url, video_id, status) in enumerate(rows, start=1)])
            c.execute(videos.insert(), [
                dict(video_id=video_id, url=url, performance=1.0, status=DONE, error="", duration_s=5.0, faces=1,
                     location=location, seq=k)
                for k, (location, url, video_id, status) in enumerate(rows, start=1) if video_id])
    finally:
        engine.dispose()
