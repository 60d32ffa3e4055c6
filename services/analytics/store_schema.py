"""The analytics store's tables (SQLAlchemy Core metadata, as the queries use them) and their migrations.

The same tables serve SQLite (the embedded default, `DATA/analytics.sqlite3`) and PostgreSQL
(INFLUENCERS_DATABASE_URL). Alembic keeps the schema: the scripts are in `migrations/`, the version in
`alembic_version_analytics` (the ingest job queue shares a PostgreSQL database with its own history). Opening
a store runs `migrate`: a data dir of the release before Alembic (tables, no version table) is brought to that
release's schema and stamped at the first revision, then every database goes to the head. On PostgreSQL the
whole migration is one transaction under an advisory lock, so two processes opening one database at once
never both create tables; on SQLite the transaction is BEGIN IMMEDIATE, which serialises them the same way.
"""

from __future__ import annotations

import functools
import logging
import zlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from services.common.database import is_postgres

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version_analytics"
FIRST_REVISION = "0001"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key of analytics migrations (a stable 31-bit number of the name; other users of the
# database, such as the job queue, take keys of their own).
MIGRATION_LOCK = zlib.crc32(b"influencers.analytics.migrations") & 0x7FFFFFFF

# Texts compared and sorted byte by byte on both engines: SQLite's BINARY collation, PostgreSQL's "C" (a
# database's default collation may sort "a_b" and "ab" by language rules).
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

metadata = sa.MetaData()

# One row per manifest row, keyed by where its bytes were read (location); `seq` is the order first recorded.
urls = sa.Table(
    "urls", metadata,
    sa.Column("location", KEY, primary_key=True),
    sa.Column("url", KEY, nullable=False),
    sa.Column("video_id", KEY, nullable=False, server_default=""),
    sa.Column("performance", sa.Float),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("external_id", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", sa.Float, nullable=False),  # seconds since the epoch of the last real change
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("urls_by_url", "url"),
    sa.Index("urls_by_video", "video_id"),
    sa.Index("urls_by_seq", "seq", unique=True),
)

# One row per content (video id), standing under the location of the first row that produced it.
videos = sa.Table(
    "videos", metadata,
    sa.Column("video_id", KEY, primary_key=True),
    sa.Column("url", KEY, nullable=False),
    sa.Column("performance", sa.Float),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("duration_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("faces", sa.Integer, nullable=False, server_default="0"),
    sa.Column("location", KEY, nullable=False, server_default=""),
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("videos_by_seq", "seq", unique=True),
)

# Identity's answer of who is in which video. A row may precede its video's record (the feed and RecordVideo
# race); reads count it only once the video is recorded done.
appearances = sa.Table(
    "appearances", metadata,
    sa.Column("video_id", KEY, primary_key=True),
    sa.Column("influencer_id", KEY, primary_key=True),
    sa.Column("first_seen_s", sa.Float, nullable=False),
    sa.Column("last_seen_s", sa.Float, nullable=False),
    sa.Column("faces", sa.Integer, nullable=False),
    sa.Column("screen_time_s", sa.Float, nullable=False),
    sa.Column("face_quality", sa.Float, nullable=False),
    sa.Column("best_face", sa.LargeBinary, nullable=False),  # JPEG bytes; b"" until fetched by face_ref
    sa.Column("ambiguous", sa.Integer, nullable=False),
    sa.Column("face_ref", KEY, nullable=False, server_default=""),
    sa.Column("segments", sa.Text, nullable=False, server_default="[]"),  # JSON [[start_s, end_s, best_s]...]
    sa.Index("appearances_by_influencer", "influencer_id"),
    sa.Index("appearances_by_face_ref", "face_ref", sqlite_where=sa.text("face_ref != ''"),
             postgresql_where=sa.text("face_ref != ''")),
)

names = sa.Table(
    "names", metadata,
    sa.Column("influencer_id", KEY, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("hidden", sa.Integer, nullable=False, server_default="0"),
)

# One row (id 1): the position of identity's feed applied here, and a revision every write moves (readers'
# caches compare it; writers lock this row first, so that writers of every process queue as on SQLite).
state = sa.Table(
    "analytics_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("feed_position", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for these migrations (no alembic.ini: the scripts ship in the package)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def migrate(engine: Engine) -> None:
    """Brings the database to the head revision (adopting a data dir of the release before Alembic), in
    one transaction that other processes' migrations wait for. A database newer than this code is refused."""
    from services.analytics.migrations.legacy import adopt, is_legacy

    with engine.connect() as connection, connection.begin():  # SQLite: BEGIN IMMEDIATE, one at a time
        if is_postgres(engine):
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        revision = current_revision(connection)
        if revision == head_revision():
            return
        log.info("analytics store: migrating the schema from %s to %s", revision or "nothing", head_revision())
        if revision is None and is_legacy(connection):
            adopt(connection)
            command.stamp(alembic_config(connection), FIRST_REVISION)
        elif revision is not None and revision not in _known_revisions():
            raise RuntimeError(f"the analytics database is at revision {revision}, which this release does "
                               f"not know (written by a newer release?)")
        command.upgrade(alembic_config(connection), "head")


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())
