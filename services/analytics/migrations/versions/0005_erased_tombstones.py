"""Tombstones of erased influencers: the keyed hash of each erased id (never the id) and when it was erased,
so that a late change cannot bring the person back; and the videos in which a face of an erased person is seen
again (a repost), with the date of that erasure, for the page to flag.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased",
        sa.Column("erased_key", sa.Text, primary_key=True),
        sa.Column("erased_at", sa.Float, nullable=False),
    )
    op.create_table(
        "reposts",
        sa.Column("video_id", sa.Text, primary_key=True),
        sa.Column("erased_utc", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reposts")
    op.drop_table("erased")
