"""Stream digests: each analysed video's coded-stream digest (services/ingest/stream_digest.py), so that the
same stream under other bytes (a remux) is recognised by one exact lookup, before it is decoded.

Revision ID: 0003_stream_digests
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_stream_digests"
down_revision = "0002_repost_signatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_stream_digests",
        sa.Column("digest", sa.String(96), primary_key=True),
        sa.Column("video_id", sa.String(128), primary_key=True),
        sa.Column("duration_s", sa.Float, nullable=False),
    )
    op.create_index("ingest_stream_digests_video", "ingest_stream_digests", ["video_id"])


def downgrade() -> None:
    op.drop_index("ingest_stream_digests_video", "ingest_stream_digests")
    op.drop_table("ingest_stream_digests")
