"""The identity of identity's feed whose position analytics_state holds (ListChangesResponse.feed_id), stored
with that position. Stores from before hold "": the follower resyncs once from identity's snapshot, unless it
has applied nothing yet (position 0), and keeps the id it then meets.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analytics_state", sa.Column("feed_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("analytics_state", "feed_id")
