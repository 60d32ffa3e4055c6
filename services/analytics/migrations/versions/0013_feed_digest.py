"""The fingerprint (identity's Change.digest) of the last change of identity's feed applied here, stored with its
position: a feed restored from a backup keeps its id, and the change it writes at that position later has another
fingerprint. Stores from before hold "": the follower checks nothing until it applies its next change.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analytics_state", sa.Column("feed_digest", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("analytics_state", "feed_digest")
