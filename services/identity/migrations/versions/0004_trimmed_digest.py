"""The digest of the newest entry retention deleted, kept beside its position. A follower whose position is that
entry's (a page's `after_digest`) was sent no digest once the entry was gone, and took the feed as its sequel even
when it was a restored feed that had written another entry there. Rows trimmed before this revision hold none: a
follower exactly there resyncs once (services/identity/feed.py ChangeFeed.read).

Revision ID: 0004_trimmed_digest
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_trimmed_digest"
down_revision = "0003_feed_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("identity_changes_trimmed", sa.Column("through_digest", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_changes_trimmed") as batch:
        batch.drop_column("through_digest")
