"""No link's secret kept for a row that will not run again, by today's rules: the query names added to
url_secrets.SECRET_PARAMETERS since 0005 (analytics 0014's `pwd`, `jwt`, `hmac`, `token[]`, a JSON Web Token under
any name; 0015's `code`, `st`, `hdntl`, `oauth_token`, ...), and the user name and password of a scheme-relative link
(`//ann:pw@cdn/v.mp4`). Rewritten as 0005 did (migrations/secrets_out.py). Before, the rows of jobs that ended before
kept such a value in their stored submission and result (WatchJob replayed it), and a result's location kept it.

Revision ID: 0009_more_secret_names
"""

from alembic import op

from services.ingest.migrations.secrets_out import keep_no_secret

revision = "0009_more_secret_names"
down_revision = "0008_finalising_since"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by 0008)."""
