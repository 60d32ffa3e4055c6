"""The ingest job queue: one row a job, one row a submitted manifest row (with its lease and its result).

Revision ID: 0001_ingest_queue
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_ingest_queue"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("base_dir", sa.Text, nullable=False, server_default=""),
        sa.Column("created_s", sa.Float, nullable=False),
        sa.Column("started_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("ended_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("changed_videos", sa.Integer, nullable=False, server_default="0"),
        sa.Column("finalizer", sa.String(200), nullable=True),
        sa.Column("finalizer_expires_s", sa.Float, nullable=False, server_default="0"),
    )
    op.create_index("ingest_jobs_by_state", "ingest_jobs", ["state", "created_s"])
    op.create_table(
        "ingest_rows",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("ingest_jobs.job_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("submission", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("video_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("processed_video_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("status", sa.String(32), nullable=False, server_default=""),
        sa.Column("done_seq", sa.Integer, nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
    )
    op.create_index("ingest_rows_by_state", "ingest_rows", ["state", "job_id", "idx"])
    op.create_index("ingest_rows_by_done", "ingest_rows", ["job_id", "done_seq"])


def downgrade() -> None:
    op.drop_table("ingest_rows")
    op.drop_table("ingest_jobs")
