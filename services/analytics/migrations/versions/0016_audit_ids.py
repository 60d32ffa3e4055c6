"""An index of the influencer ids each audit row names (table `audit_ids`), and of the rows an undo reverted
(`audit_by_undoes`): "which correction took this id away" (the page of a merged-away id, an answer for a pair
merged meanwhile) read every audit row's JSON with LIKE '%"inf_…"%', 27 ms a call at 5,000 rows, once per pair
of a dismissed review page. The rows of the trail are indexed here as they are.

Revision ID: 0016
Revises: 0015
"""

import json

import sqlalchemy as sa
from alembic import op

from services.analytics.store_schema import KEY

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    table = op.create_table(
        "audit_ids",
        sa.Column("influencer_id", KEY, primary_key=True),
        sa.Column("audit_id", KEY, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("in_before", sa.Integer, nullable=False),
        sa.Column("in_after", sa.Integer, nullable=False),
    )
    op.create_index("audit_ids_by_influencer_position", "audit_ids", ["influencer_id", "position"])
    op.create_index("audit_by_undoes", "audit", ["undoes"])
    bind = op.get_bind()
    found = bind.execute(sa.text("SELECT audit_id, position, before_ids, after_ids FROM audit"))
    rows: list[dict[str, object]] = []
    for audit_id, position, before_ids, after_ids in found.all():
        rows.extend(index_rows(audit_id, int(position), json.loads(before_ids), json.loads(after_ids)))
    for start in range(0, len(rows), _BATCH):
        bind.execute(table.insert(), rows[start:start + _BATCH])


def index_rows(audit_id: str, position: int, before: list[str], after: list[str]) -> list[dict[str, object]]:
    """The index's rows of one audit row (its erased placeholders are no id: left out)."""
    return [{"influencer_id": i, "audit_id": audit_id, "position": position, "in_before": int(i in before),
             "in_after": int(i in after)} for i in dict.fromkeys([*before, *after]) if i != "(erased)"]


def downgrade() -> None:
    op.drop_index("audit_by_undoes", table_name="audit")
    op.drop_index("audit_ids_by_influencer_position", table_name="audit_ids")
    op.drop_table("audit_ids")
