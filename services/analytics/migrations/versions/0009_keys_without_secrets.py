"""Keys that keep no secret: a row's location is keyed as today (services/common/location_key.py), a token in
a link's path and a user name and password digested like the query's secrets. Before, the key (returned by
GetVideo and ListVideos, kept in the database file) kept them as given. A row already at the new key (a
location spelled so) becomes one row with it, by the store's write rules (migrations/row_moves.py). A key past
1 KiB is moved to the one its link gets today when its url and head tell it (migrations/long_keys.py; 0011 moves
those this revision first keyed by the key alone). A url and
an error a caller other than ingest gave with a link's secrets (since 0007) are hidden, as the store keeps them
now (records.secrets_kept_out).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from services.analytics.migrations.long_keys import key_today
from services.analytics.migrations.row_moves import URL_COLUMNS, move_row, urls, videos
from services.common.location_key import location_key
from services.common.url_secrets import links_hidden, secrets_hidden

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = op.get_bind()
    found = c.execute(sa.select(urls.c.location, *(urls.c[k] for k in URL_COLUMNS))).all()
    for location, *columns in found:
        row = dict(zip(URL_COLUMNS, columns, strict=True))
        # A key past 1 KiB: the one the same link gets today, found from the url when it can be (long_keys.py).
        if (key := key_today(location, secrets_hidden(row["url"]))) != location:
            move_row(c, location, key, row)
    # A video standing under no row's key (none is expected) loses its secrets all the same.
    for video_id, location in c.execute(sa.select(videos.c.video_id, videos.c.location)).all():
        if (key := location_key(location)) != location:
            c.execute(videos.update().where(videos.c.video_id == video_id).values(location=key))
    for t, key_column in ((urls, urls.c.location), (videos, videos.c.video_id)):
        for key, url, error in c.execute(sa.select(key_column, t.c.url, t.c.error)).all():
            kept = {"url": secrets_hidden(url), "error": links_hidden(error)}
            if kept != {"url": url, "error": error}:
                c.execute(t.update().where(key_column == key).values(**kept))


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by revision 0008)."""
