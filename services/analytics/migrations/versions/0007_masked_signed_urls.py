"""Rows recorded before signed links were masked: their url, and the links their error names, shown with
their secrets hidden, and their key (location) the one the same link gets today, a row of the link recorded
since merged into it (migrations/masked_urls.py has the rules). Before, such a row kept the signature, token
or key as given (shown on the page, exported in videos.csv), and the same link run again was a second row, a
duplicate of the first one's video.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from services.analytics.migrations.masked_urls import links_hidden, masked_location, merged, shown_url
from services.analytics.records import DONE, DUPLICATE

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_URL_COLUMNS = ("url", "video_id", "performance", "status", "error", "external_id", "updated_at", "seq",
                "repeats")
_urls = sa.table("urls", sa.column("location"), *(sa.column(c) for c in _URL_COLUMNS))
_videos = sa.table("videos", sa.column("video_id"), sa.column("url"), sa.column("location"),
                   sa.column("performance"), sa.column("status"), sa.column("error"))
_appearances = sa.table("appearances", sa.column("video_id"))
_state = sa.table("analytics_state", sa.column("feed_position"))


def upgrade() -> None:
    c = op.get_bind()
    found = c.execute(sa.select(_urls.c.location, *(_urls.c[k] for k in _URL_COLUMNS))).all()
    rows = {r[0]: dict(zip(_URL_COLUMNS, r[1:], strict=True)) for r in found}
    for location, row in rows.items():
        key = masked_location(location, row["url"])
        if key != location:
            _move(c, location, key, row)
    for t, key_column in ((_urls, _urls.c.location), (_videos, _videos.c.video_id)):
        for key, url, error in c.execute(sa.select(key_column, t.c.url, t.c.error)).all():
            shown = {"url": shown_url(url), "error": links_hidden(error)}
            if shown != {"url": url, "error": error}:
                c.execute(t.update().where(key_column == key).values(**shown))


def _move(c: sa.Connection, location: str, key: str, old: dict) -> None:
    """The row at `location` (the link as given) to `key`, merged with a row already there."""
    made = c.execute(sa.select(_videos.c.video_id).where(_videos.c.video_id == old["video_id"],
                                                         _videos.c.location == location)).first() is not None
    found = c.execute(sa.select(*(_urls.c[k] for k in _URL_COLUMNS)).where(_urls.c.location == key)).first()
    c.execute(_urls.delete().where(_urls.c.location == location))
    if found is None:
        row = old
        c.execute(_urls.insert().values(location=key, **row))
    else:
        row = merged(old, found._asdict(), made)
        c.execute(_urls.update().where(_urls.c.location == key).values(**row))
    c.execute(_videos.update().where(_videos.c.location == location).values(location=key))
    if made and row["video_id"] == old["video_id"]:
        c.execute(_videos.update().where(_videos.c.video_id == old["video_id"]).values(
            performance=row["performance"]))
    elif made:
        _detach(c, key, old["video_id"])


def _detach(c: sa.Connection, key: str, video_id: str) -> None:
    """The store's rule when a row gives other bytes: the video it produced moves to its next row (first
    recorded), which stands for it (done); with none, the video goes (its appearances too, unless identity's
    feed owns them)."""
    heir = c.execute(sa.select(_urls.c.location, _urls.c.url).where(_urls.c.video_id == video_id)
                     .order_by(_urls.c.seq).limit(1)).first()
    if heir is not None:
        c.execute(_videos.update().where(_videos.c.video_id == video_id).values(location=heir[0], url=heir[1]))
        done = c.execute(sa.select(_videos.c.status).where(_videos.c.video_id == video_id)).scalar() == DONE
        if done:
            c.execute(_urls.update().where(_urls.c.location == heir[0], _urls.c.status == DUPLICATE)
                      .values(status=DONE))
        return
    if not c.execute(sa.select(_state.c.feed_position)).scalar():
        c.execute(_appearances.delete().where(_appearances.c.video_id == video_id))
    c.execute(_videos.delete().where(_videos.c.video_id == video_id))


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by revision 0006)."""
