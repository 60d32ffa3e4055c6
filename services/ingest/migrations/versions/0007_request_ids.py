"""StartIngest's idempotency key (StartIngestRequest.request_id) kept with its job, with the digest of what the
request asked, under a unique index: a retry of a submission whose reply was lost finds its job, on any replica
and after a restart, and replicas racing with one key store one job. Jobs stored before hold NULL (no key).

Revision ID: 0007_request_ids
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_request_ids"
down_revision = "0006_stop_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ingest_jobs", sa.Column("request_id", sa.String(36)))
    op.add_column("ingest_jobs", sa.Column("request_digest", sa.String(64)))
    op.create_index("ingest_jobs_request_id", "ingest_jobs", ["request_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ingest_jobs_request_id", "ingest_jobs")
    op.drop_column("ingest_jobs", "request_digest")
    op.drop_column("ingest_jobs", "request_id")
