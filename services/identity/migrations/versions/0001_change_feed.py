"""Identity's change feed as `metadata.create_all` made it before Alembic: the entries, and the highest
position retention deleted. A feed of that release (tables, no version table) is stamped here, not recreated.

Revision ID: 0001_change_feed
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_change_feed"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_changes",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("change", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,  # a deleted tail's positions are never given again
    )
    op.create_table(
        "identity_changes_trimmed",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("through", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("identity_changes_trimmed")
    op.drop_table("identity_changes")
