"""When a job was first seen with every row's outcome and not ended (influencers_job_finalising_seconds times it
from then): kept with the job, so that every ingest replica restarting does not start its 30 minutes again
(InfluencersJobNotEnding). Jobs stored before hold NULL, stamped by the first reading that finds them so.

Revision ID: 0008_finalising_since
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_finalising_since"
down_revision = "0007_request_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ingest_jobs", sa.Column("finalising_since_s", sa.Float))


def downgrade() -> None:
    op.drop_column("ingest_jobs", "finalising_since_s")
