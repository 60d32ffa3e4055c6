"""Identity's feed position in a one-row state table (with a revision every write moves), and an explicit
first-recorded order of manifest rows and videos (SQLite's rowid, which PostgreSQL has no equivalent of).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ORDERED = ("urls", "videos")


def upgrade() -> None:
    bind = op.get_bind()
    for table in _ORDERED:
        op.add_column(table, sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"))
        if bind.dialect.name == "sqlite":  # rows of an adopted data dir keep the order they were recorded in
            op.execute(sa.table(table, sa.column("seq")).update().values(seq=sa.literal_column("rowid")))
        else:
            _number_rows(table, "location" if table == "urls" else "video_id")
        op.create_index(f"{table}_by_seq", table, ["seq"], unique=True)
    state = op.create_table(
        "analytics_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("feed_position", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.bulk_insert(state, [{"id": 1, "feed_position": 0, "revision": 0}])


def _number_rows(table: str, key: str) -> None:
    """Numbers existing rows 1, 2, ... by their key (no engine but SQLite ever held rows at 0001)."""
    t = sa.table(table, sa.column("seq"), sa.column(key))
    bind = op.get_bind()
    keys = bind.execute(sa.select(t.c[key]).order_by(t.c[key])).scalars().all()
    for n, value in enumerate(keys, start=1):
        bind.execute(t.update().where(t.c[key] == value).values(seq=n))


def downgrade() -> None:
    op.drop_table("analytics_state")
    for table in _ORDERED:
        op.drop_index(f"{table}_by_seq", table_name=table)
        op.drop_column(table, "seq")
