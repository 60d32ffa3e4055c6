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

from services.analytics.migrations.masked_urls import masked_location, shown_url
from services.analytics.migrations.row_moves import URL_COLUMNS, move_row, urls, videos
from services.common.url_secrets import links_hidden

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = op.get_bind()
    found = c.execute(sa.select(urls.c.location, *(urls.c[k] for k in URL_COLUMNS))).all()
    rows = {r[0]: dict(zip(URL_COLUMNS, r[1:], strict=True)) for r in found}
    for location, row in rows.items():
        key = masked_location(location, row["url"])
        if key != location:
            move_row(c, location, key, row)
    for t, key_column in ((urls, urls.c.location), (videos, videos.c.video_id)):
        for key, url, error in c.execute(sa.select(key_column, t.c.url, t.c.error)).all():
            shown = {"url": shown_url(url), "error": links_hidden(error)}
            if shown != {"url": url, "error": error}:
                c.execute(t.update().where(key_column == key).values(**shown))


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by revision 0006)."""
