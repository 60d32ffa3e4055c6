"""The audit trail: one row per correction by hand, written from identity's feed (services/analytics/audit.py).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.analytics.store_schema import KEY

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("audit_id", KEY, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("time_s", sa.Float, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("before_ids", sa.Text, nullable=False, server_default="[]"),
        sa.Column("after_ids", sa.Text, nullable=False, server_default="[]"),
        sa.Column("names", sa.Text, nullable=False, server_default="{}"),
        sa.Column("before_name", sa.Text, nullable=False, server_default=""),
        sa.Column("after_name", sa.Text, nullable=False, server_default=""),
        sa.Column("videos", sa.Integer, nullable=False, server_default="0"),
        sa.Column("faces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("subject_hmac", sa.Text, nullable=False, server_default=""),
        sa.Column("undoable", sa.Integer, nullable=False, server_default="0"),
        sa.Column("undoes", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("audit_by_position", "audit", ["position"])


def downgrade() -> None:
    op.drop_index("audit_by_position", table_name="audit")
    op.drop_table("audit")
