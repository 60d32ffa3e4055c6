"""Identity's change feed under Alembic (services/identity/migrations), on SQLite and on a real PostgreSQL
server: a feed made by `create_all` before Alembic is adopted, not recreated, and its entries written before
media times were Durations (tests/support/legacy_bytes.py) read with their times after the upgrade; an
analytics follower ends with the same rows as on a feed written by this release."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from influencers.v1 import common_pb2, identity_pb2
from services.analytics.feed import Follower
from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.common.database import open_engine
from services.common.protoconv import duration, seconds
from services.identity import feed as feed_module
from services.identity.feed import FIRST_REVISION, HISTORY, ChangeFeed, TooFarBehind
from tests.support.legacy_bytes import CHANGE_TIMES, LEGACY_CHANGE, VIDEO

# The two tables as create_all made them in the release before Alembic: the trimmed entry's digest (0004) came later.
BEFORE_ALEMBIC = sa.MetaData()
feed_module.changes_table.to_metadata(BEFORE_ALEMBIC)
sa.Table("identity_changes_trimmed", BEFORE_ALEMBIC, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("through", sa.BigInteger, nullable=False))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        (tmp_path / "identity").mkdir(exist_ok=True)
        return f"sqlite:///{tmp_path / 'identity' / 'feed.sqlite3'}"
    return request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://", 1)


def old_feed(url: str, positions: list[int], trimmed_through: int = 0) -> None:
    """A feed as the release before Alembic left it: create_all's tables, no version table, old bytes."""
    engine = open_engine(url)
    try:
        # Its two tables only: the feed's id (migration 0003) came later.
        BEFORE_ALEMBIC.create_all(engine)
        with engine.begin() as conn:
            for position in positions:
                conn.execute(feed_module.changes_table.insert().values(position=position, created_at=1.0,
                                                                       change=LEGACY_CHANGE))
            if trimmed_through:
                conn.execute(feed_module.trimmed_table.insert().values(id=1, through=trimmed_through))
            if engine.dialect.name == "postgresql":  # explicit positions leave the sequence behind: move it on
                conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('identity_changes', 'position'), "
                                     ":last)"), {"last": max(positions)})
    finally:
        engine.dispose()


def times(change: identity_pb2.Change) -> list[tuple]:
    return [(a.influencer_id, seconds(a.first_seen), seconds(a.last_seen), seconds(a.screen_time),
             tuple((seconds(s.start), seconds(s.end), seconds(s.best)) for s in a.segments))
            for v in change.videos for a in v.appearances]


def new_change() -> identity_pb2.Change:
    """LEGACY_CHANGE's content, written by this release."""
    return identity_pb2.Change(kind=identity_pb2.CHANGE_KIND_VIDEO, names={"inf_aaaaaaaaaa": "Ann"}, videos=[
        common_pb2.VideoAppearances(video_id=VIDEO, appearances=[
            common_pb2.Appearance(influencer_id=who, first_seen=duration(first), last_seen=duration(last),
                                  screen_time=duration(screen), faces=4 if k == 0 else 1,
                                  face_quality=0.8 if k == 0 else 0.0, face_ref=f"{VIDEO}-{k}",
                                  segments=[common_pb2.Segment(start=duration(s), end=duration(e), best=duration(b))
                                            for s, e, b in segments])
            for k, (who, first, last, screen, segments) in enumerate(CHANGE_TIMES)])])


def test_a_feed_from_before_alembic_is_adopted_and_its_old_entries_read_with_their_times(url) -> None:
    old_feed(url, [2, 3], trimmed_through=1)
    feed = ChangeFeed(open_engine(url))
    try:
        with feed.engine.connect() as conn:
            assert HISTORY.current(conn) == HISTORY.head()
        got, head = feed.read(1, 10)
        assert [c.position for c in got] == [2, 3] and head == 3
        assert all(times(c) == list(CHANGE_TIMES) for c in got)
        assert got[0].names == {"inf_aaaaaaaaaa": "Ann"} and got[0].create_time.seconds == 1764892800
        with pytest.raises(TooFarBehind):  # what retention deleted before the upgrade stays deleted
            feed.read(0, 10)
        assert feed.append([new_change()]) == [4]
    finally:
        feed.close()


def test_a_second_open_finds_the_feed_at_the_head_and_rewrites_nothing(url) -> None:
    old_feed(url, [1])
    ChangeFeed(open_engine(url)).close()
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            before = conn.execute(sa.select(feed_module.changes_table.c.change)).scalar_one()
        feed = ChangeFeed(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.select(feed_module.changes_table.c.change)).scalar_one() == before
        assert times(feed.read(0, 1)[0][0]) == CHANGE_TIMES
    finally:
        engine.dispose()


def test_a_feed_from_before_feed_ids_gets_one_at_its_first_open_and_keeps_it_and_a_new_feed_gets_another(
        url, tmp_path) -> None:
    old_feed(url, [1])
    first = ChangeFeed(open_engine(url))
    first.close()
    again = ChangeFeed(open_engine(url))
    fresh = ChangeFeed(open_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}"))
    try:
        assert len(first.feed_id) == 32 and again.feed_id == first.feed_id
        assert fresh.feed_id not in ("", first.feed_id)
        assert [c.position for c in again.read(0, 10)[0]] == [1]
    finally:
        again.close()
        fresh.close()


def test_the_first_revision_makes_the_tables_create_all_made(url) -> None:
    old = open_engine(url)
    try:
        BEFORE_ALEMBIC.create_all(old)
        made_by_create_all = _schema(old)
    finally:
        with old.begin() as conn:
            BEFORE_ALEMBIC.drop_all(conn)
        old.dispose()
    first = open_engine(url)
    try:
        with first.begin() as conn:
            command.upgrade(HISTORY.config(conn), FIRST_REVISION)
        assert _schema(first) == made_by_create_all
    finally:
        first.dispose()


def _schema(engine: sa.Engine) -> dict:
    inspector = sa.inspect(engine)
    tables = ("identity_changes", "identity_changes_trimmed")
    schema: dict = {t: ([(c["name"], str(c["type"]), c["nullable"], c.get("autoincrement"))
                         for c in inspector.get_columns(t)], inspector.get_pk_constraint(t)["constrained_columns"])
                    for t in tables}
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            schema["ddl"] = sorted(" ".join(sql.split()) for (sql,) in conn.execute(sa.text(
                "SELECT sql FROM sqlite_master WHERE name IN ('identity_changes', 'identity_changes_trimmed')")))
    return schema


class ChangeFeedSource:
    """The FeedSource port (services/analytics/feed.py) on a ChangeFeed, as identity's ListChanges serves it."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed

    def list_changes(self, after: int, page_size: int) -> tuple[list[identity_pb2.Change], int, str, str]:
        return (*self.feed.read(after, page_size), self.feed.feed_id, self.feed.digest(after))

    def snapshot(self):
        return iter(())

    def face_crop(self, face_ref: str) -> bytes | None:
        return None


def test_analytics_following_an_upgraded_feed_ends_with_the_rows_of_a_feed_written_by_this_release(
        url, tmp_path) -> None:
    old_feed(url, [1])
    upgraded = ChangeFeed(open_engine(url))
    fresh = ChangeFeed(open_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}"))
    fresh.append([new_change()])
    rows = []
    try:
        for name, feed in (("upgraded", upgraded), ("fresh", fresh)):
            store = AnalyticsStore(tmp_path / f"{name}.sqlite3")
            try:
                store.record_video(VideoRow(url="a.mp4", video_id=VIDEO, performance=1.0, status=DONE), [])
                Follower(ChangeFeedSource(feed), store).catch_up()
                assert store.feed_position() == 1
                rows.append(store.appearances_in(VIDEO))
            finally:
                store.close()
    finally:
        upgraded.close()
        fresh.close()
    assert rows[0] == rows[1]
    assert [(r.influencer_id, r.first_seen_s, r.last_seen_s, r.screen_time_s) for r in rows[0]] == [
        (who, first, last, screen) for who, first, last, screen, _ in CHANGE_TIMES]
    assert rows[0][0].segments == CHANGE_TIMES[0][4]
