"""No link's secret kept for a row that will not run again: the submission of every row finished or dropped,
and of every row of an ended job, without its URL's secrets (job_store.submission_without_secrets); every stored
result with its url hidden, its location keyed as analytics keys it and the links its error names hidden
(job_store.result_without_secrets); a job's error with its links hidden. Before, the rows of jobs that ended
before signed links were masked kept the link as given (and WatchJob replayed it), and every result's location
kept a token in the link's path. A running job's rows still to run keep their URL as given: it is fetched.

Revision ID: 0005_no_secrets_at_rest
"""

from alembic import op

from services.ingest.migrations.secrets_out import keep_no_secret

revision = "0005_no_secrets_at_rest"
down_revision = "0004_media_times_as_durations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by 0004)."""
