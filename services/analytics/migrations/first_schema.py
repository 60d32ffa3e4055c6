"""The analytics tables as the release before Alembic left them (frozen: revision 0001 creates exactly these,
and legacy.py brings older data dirs to them). Later changes go in new revisions, never here."""

from __future__ import annotations

import sqlalchemy as sa

KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def urls_columns() -> list[sa.Column]:
    """The manifest rows' columns (new objects at each call: a column belongs to one table)."""
    return [
        sa.Column("location", KEY, primary_key=True),
        sa.Column("url", KEY, nullable=False),
        sa.Column("video_id", KEY, nullable=False, server_default=""),
        sa.Column("performance", sa.Float),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("external_id", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.Float, nullable=False),
    ]


def first_schema() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "urls", metadata,
        *urls_columns(),
        sa.Index("urls_by_url", "url"),
        sa.Index("urls_by_video", "video_id"),
    )
    sa.Table(
        "videos", metadata,
        sa.Column("video_id", KEY, primary_key=True),
        sa.Column("url", KEY, nullable=False),
        sa.Column("performance", sa.Float),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("duration_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("faces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("location", KEY, nullable=False, server_default=""),
    )
    sa.Table(
        "appearances", metadata,
        sa.Column("video_id", KEY, primary_key=True),
        sa.Column("influencer_id", KEY, primary_key=True),
        sa.Column("first_seen_s", sa.Float, nullable=False),
        sa.Column("last_seen_s", sa.Float, nullable=False),
        sa.Column("faces", sa.Integer, nullable=False),
        sa.Column("screen_time_s", sa.Float, nullable=False),
        sa.Column("face_quality", sa.Float, nullable=False),
        sa.Column("best_face", sa.LargeBinary, nullable=False),
        sa.Column("ambiguous", sa.Integer, nullable=False),
        sa.Column("face_ref", KEY, nullable=False, server_default=""),
        sa.Column("segments", sa.Text, nullable=False, server_default="[]"),
        sa.Index("appearances_by_influencer", "influencer_id"),
        sa.Index("appearances_by_face_ref", "face_ref", sqlite_where=sa.text("face_ref != ''"),
                 postgresql_where=sa.text("face_ref != ''")),
    )
    sa.Table(
        "names", metadata,
        sa.Column("influencer_id", KEY, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("hidden", sa.Integer, nullable=False, server_default="0"),
    )
    return metadata
