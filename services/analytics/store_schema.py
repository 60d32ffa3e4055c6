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

import zlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine

from services.common.migrations import History, upgrade

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
    # Later rows of the row's submission with the same URL (Video.repeats), listed as its duplicates.
    sa.Column("repeats", sa.Integer, nullable=False, server_default="0"),
    # A hash index on PostgreSQL: a btree there keeps no url past ~2,700 bytes (migration 0008).
    sa.Index("urls_by_url", "url", postgresql_using="hash"),
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
    # Seconds from a player's 0 to the first frame (Video.start): the page seeks to an appearance's time plus it.
    sa.Column("start_s", sa.Float, nullable=False, server_default="0"),
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

# Tombstones: the keyed hash (services/common/erasure.py) of each erased influencer id, and when (UTC seconds
# since the epoch); appearances of an id that hashes to one are refused.
erased = sa.Table(
    "erased", metadata,
    sa.Column("erased_key", sa.Text, primary_key=True),
    sa.Column("erased_at", sa.Float, nullable=False),
)

# Videos in which identity saw again a face of a person erased earlier (a repost), with the UTC date (ISO 8601)
# of that erasure: the page flags them, the analyst decides.
reposts = sa.Table(
    "reposts", metadata,
    sa.Column("video_id", sa.Text, primary_key=True),
    sa.Column("erased_utc", sa.Text, nullable=False),
)

# One row (id 1): the position of identity's feed applied here, and a revision every write moves (readers'
# caches compare it; writers lock this row first, so that writers of every process queue as on SQLite).
revoked_sessions = sa.Table(
    "revoked_sessions", metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
)

state = sa.Table(
    "analytics_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("feed_position", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("feed_id", sa.String(64), nullable=False, server_default=""),  # whose feed_position it is ("": none)
    # Change.digest of the change at feed_position ("": none sent, or a store from before 0013)
    sa.Column("feed_digest", sa.String(64), nullable=False, server_default=""),
)

# The audit trail (services/analytics/audit.py): one row per correction by hand, from identity's feed, in the
# transaction that moves feed_position; appended, never changed but by an erasure (ids and names taken out).
audit = sa.Table(
    "audit", metadata,
    sa.Column("audit_id", KEY, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # identity's feed position of the correction
    sa.Column("time_s", sa.Float, nullable=False),  # UTC seconds since the epoch
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("before_ids", sa.Text, nullable=False, server_default="[]"),  # JSON list of influencer ids
    sa.Column("after_ids", sa.Text, nullable=False, server_default="[]"),
    sa.Column("names", sa.Text, nullable=False, server_default="{}"),  # JSON {id: display name at the time}
    sa.Column("before_name", sa.Text, nullable=False, server_default=""),
    sa.Column("after_name", sa.Text, nullable=False, server_default=""),
    sa.Column("videos", sa.Integer, nullable=False, server_default="0"),
    sa.Column("faces", sa.Integer, nullable=False, server_default="0"),
    sa.Column("subject_hmac", sa.Text, nullable=False, server_default=""),
    sa.Column("undoable", sa.Integer, nullable=False, server_default="0"),
    sa.Column("undoes", sa.Text, nullable=False, server_default=""),
    sa.Index("audit_by_position", "position"),
    sa.Index("audit_by_undoes", "undoes"),  # which rows an undo reverted (migration 0016)
)

# Each influencer id an audit row names before or after its correction, one row per (id, audit row): the index
# "which correction took this id away" reads (migration 0016). Before, that lookup scanned every audit row's JSON
# with LIKE '%"inf_…"%'. Written with the audit row, changed with it by an erasure (the erased id's rows go).
audit_ids = sa.Table(
    "audit_ids", metadata,
    sa.Column("influencer_id", KEY, primary_key=True),
    sa.Column("audit_id", KEY, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # the audit row's, to read newest first by the index
    sa.Column("in_before", sa.Integer, nullable=False),  # 1: among the row's ids before the correction
    sa.Column("in_after", sa.Integer, nullable=False),  # 1: among its ids after
    sa.Index("audit_ids_by_influencer_position", "influencer_id", "position"),
)


HISTORY = History("analytics store", MIGRATIONS, VERSION_TABLE, MIGRATION_LOCK,
                  when_removed="analytics is rebuilt from identity; run the manifests again for the scores")


def migrate(engine: Engine) -> None:
    """Brings the database to the head revision (services/common/migrations.py), adopting a data dir of the
    release before Alembic: its tables are brought to that release's schema and stamped at the first
    revision."""
    upgrade(engine, HISTORY, _adopt_legacy)


class StaleSchema(ValueError):
    """A store opened read-only whose schema is not this release's (it needs a migration, which writes)."""


def check_current(engine: Engine) -> None:
    """StaleSchema unless the database is at this release's head revision (read-only opens: nothing migrates)."""
    with engine.connect() as connection:
        current = HISTORY.current(connection)
    if current != HISTORY.head():
        raise StaleSchema(f"the analytics store is at schema revision {current or 'none'}, this release reads "
                          f"{HISTORY.head()}: start `influencers serve` on it once (writable) to migrate it")


def _adopt_legacy(connection: Connection, revision: str | None) -> None:
    from services.analytics.migrations.legacy import adopt, is_legacy

    if revision is None and is_legacy(connection):
        adopt(connection)
        command.stamp(HISTORY.config(connection), FIRST_REVISION)
