"""Adopts a data dir written before Alembic (SQLite only: no PostgreSQL database predates it).

Such a file has tables and no version table, and may come from any earlier release: manifest rows keyed by
their spelling (before locations were kept), columns added since missing. `adopt` brings it to the first
revision's tables, as the old store did at every open: rows keyed by their spelling until next seen at their
location, each video under the location of its first row, new columns with their defaults for old rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection

from services.analytics.migrations.first_schema import first_schema, urls_columns

# Columns added after the first release, with the default old rows get. face_ref: identity's reference of the
# crop (old crops are fetched again by reference); hidden: "not an influencer"; segments: when on screen.
_ADDED_COLUMNS = (
    ("appearances", sa.Column("face_ref", sa.Text, nullable=False, server_default="")),
    ("names", sa.Column("hidden", sa.Integer, nullable=False, server_default="0")),
    ("appearances", sa.Column("segments", sa.Text, nullable=False, server_default="[]")),
)


def is_legacy(connection: Connection) -> bool:
    """Whether the database holds the analytics tables of a release before Alembic."""
    return sa.inspect(connection).has_table("urls")


def adopt(connection: Connection) -> None:
    """Brings a pre-Alembic database to the first revision's schema, in the caller's transaction."""
    ops = Operations(MigrationContext.configure(connection))
    schema = first_schema()
    _key_urls_by_location(connection, ops)
    inspector = sa.inspect(connection)
    for table, column in _ADDED_COLUMNS:
        if inspector.has_table(table) and column.name not in {c["name"] for c in inspector.get_columns(table)}:
            ops.add_column(table, column)
    for table in schema.sorted_tables:
        table.create(connection, checkfirst=True)
        for index in table.indexes:
            index.create(connection, checkfirst=True)


def _key_urls_by_location(connection: Connection, ops: Operations) -> None:
    """Manifest rows of a data dir from before locations were kept are keyed by their spelling (their
    location until next seen), in their order; each video gets the location of its first row."""
    columns = {c["name"] for c in sa.inspect(connection).get_columns("urls")}
    if "location" in columns:
        return
    old = sa.table("urls", *(sa.column(c) for c in ("url", "video_id", "performance", "status", "error",
                                                     "external_id", "updated_at")))
    new = sa.Table("urls_v2", sa.MetaData(), *urls_columns())  # indexes come with the first schema, after
    new.create(connection)
    connection.execute(new.insert().from_select(
        ["location", "url", "video_id", "performance", "status", "error", "external_id", "updated_at"],
        sa.select(old.c.url, old.c.url, old.c.video_id, old.c.performance, old.c.status, old.c.error,
                  old.c.external_id, old.c.updated_at).order_by(sa.literal_column("rowid")),
    ))
    ops.drop_table("urls")
    ops.rename_table("urls_v2", "urls")
    if not sa.inspect(connection).has_table("videos"):
        return
    ops.add_column("videos", sa.Column("location", sa.Text, nullable=False, server_default=""))
    videos = sa.table("videos", sa.column("location"), sa.column("url"))
    connection.execute(videos.update().values(location=videos.c.url))
