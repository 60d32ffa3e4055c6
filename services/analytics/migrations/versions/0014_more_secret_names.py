"""Keys, urls and errors without the secrets the names added to url_secrets.SECRET_PARAMETERS since 0009 carry
(`access-token`, `jwt`, `pwd`, `pass`, `credential`, `session`, `hmac`, `md5`, `hash`, ...; `token[]`), nor a JSON
Web Token under any name: re-keyed and hidden as 0009 did (migrations/secrets_out.py). Before, such a link's
secret was kept in its key (GetVideo, ListVideos, the database file) and shown in its url, videos.csv and the page;
the same link run again, keyed as today, would have been a second row.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from services.analytics.migrations.secrets_out import keep_no_secret

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by revision 0013)."""
