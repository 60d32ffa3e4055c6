"""How many later rows of a manifest row's submission give the same URL (listed as its duplicates in the
report's videos.csv, so that every manifest row has a row).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("urls", sa.Column("repeats", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("urls", "repeats")
