"""No token of a link given without its scheme (`//cdn.example/v.mp4?token=abc`) in a stored result's location: ingest
read such a link as a local path and kept the path resolved, its token as given, as the result's location (WatchJob
replayed it). Rewritten as 0005 and 0009 did (migrations/secrets_out.py), the location keyed as analytics keys it
today (url_secrets.path_link_keyed).

Revision ID: 0010_schemeless_link_tokens
"""

from alembic import op

from services.ingest.migrations.secrets_out import keep_no_secret

revision = "0010_schemeless_link_tokens"
down_revision = "0009_more_secret_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the tokens are not kept (the rows stay as they are, readable by 0009)."""
