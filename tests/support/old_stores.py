"""Analytics stores as an older release left them, for the tests of the migrations that follow: the schema
migrated up to a past revision, then rows written straight into its tables, as that release's store did."""

from __future__ import annotations

from alembic import command

from services.analytics.records import DONE
from services.analytics.store_schema import HISTORY, urls, videos
from services.common.database import open_engine

OldRow = tuple[str, str, str, str]  # (location, url, video_id ("" for none), status)


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
