"""Why a job stopped (a full disk), kept with the job: a row of it given back after the stop (its run met a
service down) or whose owner died is recorded "not processed" saying so, as the rows the stop kept from starting
are. Before, those rows said the job was cancelled. Jobs stopped before hold "": their rows say so still.

Revision ID: 0006_stop_reason
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_stop_reason"
down_revision = "0005_no_secrets_at_rest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ingest_jobs", sa.Column("stop_reason", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("ingest_jobs", "stop_reason")
