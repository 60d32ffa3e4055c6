"""Moving a manifest row to another key inside a migration (0007: signed links masked; 0009: no secret in a
key), merged with a row already there by the store's write rules (masked_urls.merged), its video following it."""

from __future__ import annotations

import sqlalchemy as sa

from services.analytics.migrations.masked_urls import merged
from services.analytics.records import DONE, DUPLICATE

URL_COLUMNS = ("url", "video_id", "performance", "status", "error", "external_id", "updated_at", "seq", "repeats")
urls = sa.table("urls", sa.column("location"), *(sa.column(c) for c in URL_COLUMNS))
videos = sa.table("videos", sa.column("video_id"), sa.column("url"), sa.column("location"),
                  sa.column("performance"), sa.column("status"), sa.column("error"))
_appearances = sa.table("appearances", sa.column("video_id"))
_state = sa.table("analytics_state", sa.column("feed_position"))


def move_row(c: sa.Connection, location: str, key: str, old: dict) -> None:
    """The row at `location` (its columns `old`, URL_COLUMNS) to `key`, merged with a row already there."""
    made = c.execute(sa.select(videos.c.video_id).where(videos.c.video_id == old["video_id"],
                                                        videos.c.location == location)).first() is not None
    found = c.execute(sa.select(*(urls.c[k] for k in URL_COLUMNS)).where(urls.c.location == key)).first()
    c.execute(urls.delete().where(urls.c.location == location))
    if found is None:
        row = old
        c.execute(urls.insert().values(location=key, **row))
    else:
        row = merged(old, found._asdict(), made)
        c.execute(urls.update().where(urls.c.location == key).values(**row))
    c.execute(videos.update().where(videos.c.location == location).values(location=key))
    if made and row["video_id"] == old["video_id"]:
        c.execute(videos.update().where(videos.c.video_id == old["video_id"]).values(
            performance=row["performance"]))
    elif made:
        _detach(c, key, old["video_id"])


def _detach(c: sa.Connection, key: str, video_id: str) -> None:
    """The store's rule when a row gives other bytes: the video it produced moves to its next row (first
    recorded), which stands for it (done); with none, the video goes (its appearances too, unless identity's
    feed owns them)."""
    heir = c.execute(sa.select(urls.c.location, urls.c.url).where(urls.c.video_id == video_id)
                     .order_by(urls.c.seq).limit(1)).first()
    if heir is not None:
        c.execute(videos.update().where(videos.c.video_id == video_id).values(location=heir[0], url=heir[1]))
        done = c.execute(sa.select(videos.c.status).where(videos.c.video_id == video_id)).scalar() == DONE
        if done:
            c.execute(urls.update().where(urls.c.location == heir[0], urls.c.status == DUPLICATE)
                      .values(status=DONE))
        return
    if not c.execute(sa.select(_state.c.feed_position)).scalar():
        c.execute(_appearances.delete().where(_appearances.c.video_id == video_id))
    c.execute(videos.delete().where(videos.c.video_id == video_id))
