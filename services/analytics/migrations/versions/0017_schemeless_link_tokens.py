"""Keys without the tokens of a link given without its scheme (`//cdn.example/v.mp4?token=abc`,
`//cdn.example/token=abc/v.mp4`), which ingest read as a local path and keyed by the path resolved, its token as
given (`/cdn.example/v.mp4?token=abc`): re-keyed with the token digested, as ingest keys such a row today
(url_secrets.path_link_keyed), and merged with a row already there (migrations/secrets_out.py). Before, the token
was kept in the key (GetVideo, ListVideos, the database file) and shown in videos.csv's location and on the page;
the same cell run again, keyed as today, would have been a second row.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

from services.analytics.migrations.secrets_out import keep_no_secret

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the tokens are not kept (the rows stay as they are, readable by revision 0016)."""
