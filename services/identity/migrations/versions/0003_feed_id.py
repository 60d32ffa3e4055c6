"""The feed's identity: one row holding an id made with the feed (a new feed, or a feed from before it, gets one
here, at its first open by this release). It goes with every page of changes and with the snapshot, so that a
follower can tell a feed made again from empty (a new data dir) from the one whose positions it stored: the
same positions of two feeds are not the same changes.

Revision ID: 0003_feed_id
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003_feed_id"
down_revision = "0002_media_times_as_durations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "identity_feed_id",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("feed_id", sa.String(64), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "feed_id": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("identity_feed_id")
