"""Rows keyed at a length every engine indexes: a location past 1 KiB becomes its head and the SHA-256 of the
whole (services/common/location_key.py), and on PostgreSQL the urls' index by url is a hash index. Before,
PostgreSQL refused such a row (its btree keeps no key past ~2,700 bytes) with INTERNAL, and the row was lost;
SQLite kept it, so only SQLite stores can hold a long key to move.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from services.common.location_key import MAX_KEY_BYTES, location_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_urls = sa.table("urls", sa.column("location"))
_videos = sa.table("videos", sa.column("video_id"), sa.column("location"))


def upgrade() -> None:
    c = op.get_bind()
    # Longer than the bound in characters or in bytes: the bytes decide (location_key).
    for (location,) in c.execute(sa.select(_urls.c.location).where(sa.func.length(_urls.c.location) >
                                                                   MAX_KEY_BYTES // 4)).all():
        if (key := location_key(location)) != location:
            c.execute(_urls.update().where(_urls.c.location == location).values(location=key))
            c.execute(_videos.update().where(_videos.c.location == location).values(location=key))
    if c.dialect.name == "postgresql":
        op.drop_index("urls_by_url", table_name="urls")
        op.create_index("urls_by_url", "urls", ["url"], postgresql_using="hash")


def downgrade() -> None:
    """The index back to a btree; the keys stay short (the whole location is not kept)."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("urls_by_url", table_name="urls")
        op.create_index("urls_by_url", "urls", ["url"])
