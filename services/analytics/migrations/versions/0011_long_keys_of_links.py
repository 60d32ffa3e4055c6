"""A row keyed past 1 KiB by the release before 0009 (a long link with a password, a token in its path, or a
query token cut by the key's head) and keyed by 0009 from its key alone, moved to the key its link gets today,
when its url and head tell it (migrations/long_keys.py): a row of the link recorded since (the link run again)
becomes one row with it, by the store's write rules (migrations/row_moves.py). Before, the link run again was a
second row, the first listed for ever beside it. A store migrated by 0009 since long_keys.py has nothing to move.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from services.analytics.migrations.long_keys import key_today
from services.analytics.migrations.row_moves import URL_COLUMNS, move_row, urls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    c = op.get_bind()
    found = c.execute(sa.select(urls.c.location, *(urls.c[k] for k in URL_COLUMNS)).where(
        urls.c.location.contains("#sha256=", autoescape=True)).order_by(urls.c.seq)).all()
    for location, *columns in found:
        row = dict(zip(URL_COLUMNS, columns, strict=True))
        if (key := key_today(location, row["url"])) != location:
            move_row(c, location, key, row)


def downgrade() -> None:
    """Nothing to undo: the rows stay at their keys of today (readable by revision 0010)."""
