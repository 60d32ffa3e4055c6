"""The analytics tables of the release before Alembic: manifest rows, videos, appearances, names.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.analytics.migrations.first_schema import first_schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    first_schema().create_all(op.get_bind())


def downgrade() -> None:
    first_schema().drop_all(op.get_bind())
