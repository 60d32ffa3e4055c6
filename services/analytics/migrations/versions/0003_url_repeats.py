"""How many later rows of a manifest row's submission give the same URL (listed as its duplicates in the
report's videos.csv, so that every manifest row has a row).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("urls", sa.Column("repeats", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("urls", "repeats")
