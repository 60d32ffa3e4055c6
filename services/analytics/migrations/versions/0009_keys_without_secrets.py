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

from alembic import op

from services.analytics.migrations.secrets_out import keep_no_secret

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by revision 0008)."""
