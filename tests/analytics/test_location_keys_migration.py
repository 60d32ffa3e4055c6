"""Migration 0008: a SQLite store of the release before, holding a row keyed by a location past 1 KiB (which
PostgreSQL refused), is keyed as that location is today (services/common/location_key.py), and the same link
run again finds its row; PostgreSQL's urls are indexed by url with a hash index, which keeps any length."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.store_schema import HISTORY, urls, videos
from services.common.database import database_url, open_engine
from services.common.location_key import location_key

BEFORE = "0007"
LONG = "https://cdn.example.com/v.mp4?q=" + "".join(f"{k:x}" for k in range(2_000))
VIDEO_ID = "00000000000000c1"


def test_a_long_location_of_a_sqlite_store_is_keyed_short_and_its_link_run_again_is_the_same_row(tmp_path: Path):
    url = database_url("", tmp_path / "analytics.sqlite3")
    engine = open_engine(url)
    try:
        with engine.connect() as c, c.begin():
            command.upgrade(HISTORY.config(c), BEFORE)
            c.execute(urls.insert().values(location=LONG, url=LONG, video_id=VIDEO_ID, performance=1.0, status=DONE,
                                           error="", external_id="", updated_at=1.0, seq=1, repeats=0))
            c.execute(videos.insert().values(video_id=VIDEO_ID, url=LONG, performance=1.0, status=DONE, error="",
                                             duration_s=5.0, faces=1, location=LONG, seq=1))
    finally:
        engine.dispose()
    store = AnalyticsStore(url)  # migrates
    try:
        (row,) = store.list_videos()
        assert (row.location, row.url, row.video_id) == (location_key(LONG), LONG, VIDEO_ID)
        assert store.get_video(location=LONG).video_id == VIDEO_ID
        store.record_video(VideoRow(url=LONG, video_id=VIDEO_ID, performance=3.0, status=DONE, location=LONG), [])
        assert [(r.video_id, r.performance) for r in store.list_videos()] == [(VIDEO_ID, 3.0)], "one row"
        assert store.get_video(video_id=VIDEO_ID).location == location_key(LONG)
    finally:
        store.close()


def test_on_postgresql_the_urls_are_indexed_by_url_with_a_hash_index(postgres_url: str) -> None:
    AnalyticsStore(postgres_url).close()
    engine = open_engine(postgres_url)
    try:
        with engine.connect() as c:
            found = c.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'urls_by_url'")).scalar()
    finally:
        engine.dispose()
    assert "USING hash" in found
