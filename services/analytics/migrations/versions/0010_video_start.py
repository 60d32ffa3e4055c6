"""Where a video's first frame lies on a player's timeline (Video.start: its stream's start time, an MP4's edit
list or a stream muxed late): the page seeks to an appearance's time plus it. Videos recorded before hold 0,
as they were played.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("videos", sa.Column("start_s", sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("videos", "start_s")
