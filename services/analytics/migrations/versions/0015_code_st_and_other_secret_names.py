"""Keys, urls and errors without the secrets the names added to url_secrets.SECRET_PARAMETERS since 0014 carry (an
OAuth `code`, `st`, Akamai's `hdntl`, `oauth_token`, `lsig`, `oh`, `auth_key`, `sign`, `verify`, Alibaba OSS's and
Tencent COS's signatures, `authkey`, `tempauth`, `rlkey`, `private_token`, `sas`, `jsessionid`, ...), nor the user
name and password of a scheme-relative link (`//ann:pw@cdn/v.mp4`, read as a local path): re-keyed and hidden as 0009
and 0014 did (migrations/secrets_out.py). Before, such a link's secret was kept in its key (GetVideo, ListVideos,
the database file) and shown in its url, videos.csv and the page; the same link run again, keyed as today, would
have been a second row.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

from services.analytics.migrations.secrets_out import keep_no_secret

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_no_secret(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the secrets are not kept (the rows stay as they are, readable by revision 0014)."""
