"""Repost signatures: each analysed video's look (services/ingest/signature.py), and the exact keys that
find it again.

Revision ID: 0002_repost_signatures
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_repost_signatures"
down_revision = "0001_ingest_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_signatures",
        sa.Column("video_id", sa.String(128), primary_key=True),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("times", sa.Text, nullable=False),
        sa.Column("prints", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ingest_signature_keys",
        sa.Column("lookup_key", sa.String(32), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("ingest_signatures.video_id", ondelete="CASCADE"),
                  primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("ingest_signature_keys")
    op.drop_table("ingest_signatures")
