"""The analytics store's schema under Alembic: a new database gets the head, the migrations build exactly the
tables the code queries, two processes opening one PostgreSQL database at once migrate it once, and a
database from a newer release is refused. (Data dirs of the release before Alembic: test_analytics_store.py,
test_analytics_paging_and_face_refs.py and test_analytics_timeline.py open such files.)"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.store_schema import HISTORY, VERSION_TABLE, metadata
from services.common.database import open_engine
from tests.support.old_stores import URLS_VIDEOS_BEFORE_ALEMBIC


def _differences(url: str, tables_only: bool = False) -> list[object]:
    """What Alembic's autogenerate finds between the database and the code's metadata; `tables_only`: tables,
    columns and indexes added or missing (a file the old store wrote declares REAL, not FLOAT, and its TEXT
    primary key nullable, as SQLite allows: the same data)."""
    engine = open_engine(url)
    try:
        with engine.connect() as c:
            context = MigrationContext.configure(c, opts={"version_table": VERSION_TABLE,
                                                          "compare_server_default": False})
            found = [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]
            if tables_only:
                found = [d for d in found if isinstance(d, tuple) and d[0].startswith(("add_", "remove_"))]
            return found
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = open_engine(url)
    try:
        with engine.connect() as c:
            return HISTORY.current(c)
    finally:
        engine.dispose()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_new_database_is_migrated_to_the_schema_the_code_queries(engine, tmp_path, request) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}" if engine == "sqlite" else request.getfixturevalue("postgres_url")
    AnalyticsStore(url).close()
    assert _revision(url) == HISTORY.head()
    assert _differences(url) == []


def test_a_data_dir_of_the_release_before_alembic_is_stamped_then_upgraded_keeping_its_order(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(URLS_VIDEOS_BEFORE_ALEMBIC)
        for n, name in enumerate(("z.mp4", "a.mp4", "m.mp4"), start=1):
            old.execute("INSERT INTO urls VALUES (?, ?, ?, 1.0, ?, '', '', 0)",
                        (f"/d/{name}", name, f"{n:016x}", DONE))
            old.execute("INSERT INTO videos VALUES (?, ?, 1.0, ?, '', 5.0, 2, ?)", (f"{n:016x}", name, DONE,
                                                                                   f"/d/{name}"))
    store = AnalyticsStore(path)
    try:
        assert [v.url for v in store.list_videos()] == ["z.mp4", "a.mp4", "m.mp4"]
        assert store.video_frame()["url"].tolist() == ["z.mp4", "a.mp4", "m.mp4"]
        store.record_video(VideoRow("b.mp4", f"{9:016x}", 2.0, DONE, location="/d/b.mp4"))
        assert store.list_videos()[-1].url == "b.mp4" and store.feed_position() == 0
    finally:
        store.close()
    assert _revision(f"sqlite:///{path}") == HISTORY.head()
    assert _differences(f"sqlite:///{path}", tables_only=True) == []


def _open_and_record(url: str, n: int) -> None:
    store = AnalyticsStore(url)
    store.record_video(VideoRow(f"/p/{n}.mp4", f"{n + 1:016x}", 1.0, DONE, location=f"/p/{n}.mp4"))
    store.close()


def test_a_store_that_followed_identitys_feed_before_feed_ids_resyncs_once_after_the_upgrade(tmp_path) -> None:
    from alembic import command

    from services.analytics.feed import Follower
    from services.analytics.store_schema import state
    from tests.support.feed_fakes import ANN, BOB, V1, V2, FakeIdentity, appearance, change

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = open_engine(url)
    try:
        with engine.begin() as c:  # the release before feed ids, at position 2 of identity's feed
            command.upgrade(HISTORY.config(c), "0011")
            c.execute(sa.text("UPDATE analytics_state SET feed_position = 2"))
    finally:
        engine.dispose()
    store = AnalyticsStore(url)
    try:
        assert store.feed_position() == 2 and store.feed_id() == ""
        store.record_video(VideoRow(url="/v/1.mp4", video_id=V1, performance=1.0, status=DONE))
        with store._engine.connect() as c:  # noqa: SLF001 - the column the migration added
            assert c.execute(sa.select(state.c.feed_id)).scalar_one() == ""
        identity = FakeIdentity()  # its feed got an id at identity's first open by this release
        identity.publish(change((V1, [appearance(ANN)])), change((V2, [appearance(BOB)])))
        identity.snapshot_videos = {V1: [appearance(ANN)], V2: [appearance(BOB)]}
        follower = Follower(identity, store)
        follower.catch_up()
        identity.publish(change((V1, [appearance(BOB)])))
        follower.catch_up()
        assert follower.resyncs == 1 and store.feed_id() == "feed-1" and store.feed_position() == 3
        assert [a.influencer_id for a in store.appearances_in(V1)] == [BOB]
    finally:
        store.close()


def test_processes_opening_one_postgresql_database_at_once_migrate_it_once(postgres_url) -> None:
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_open_and_record, args=(postgres_url, n)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    store = AnalyticsStore(postgres_url)
    try:
        assert len(store.list_videos()) == 4 and store.version()[0] == 4
    finally:
        store.close()
    engine = open_engine(postgres_url)
    try:
        with engine.connect() as c:
            assert c.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_database_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    AnalyticsStore(url).close()
    engine = open_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(RuntimeError, match="revision 9999"):
        AnalyticsStore(url)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_audit_rows_of_a_store_before_0016_are_indexed_by_the_ids_they_name(engine, tmp_path, request) -> None:
    """0016 indexes the trail a store already holds: the page of an id merged away before the upgrade still says
    which correction took it (an undone merge, an erased id and the survivor: none)."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}" if engine == "sqlite" else request.getfixturevalue("postgres_url")
    old = open_engine(url)
    rows = [  # (audit_id, position, action, before_ids, after_ids, undoes)
        ("a" * 32, 1, "merge", '["inf_000000000a", "inf_000000000b"]', '["inf_000000000b"]', ""),
        ("b" * 32, 2, "merge", '["inf_000000000c", "inf_000000000b"]', '["inf_000000000b"]', ""),
        ("c" * 32, 3, "undo", '["inf_000000000b"]', '["inf_000000000c", "inf_000000000b"]', "b" * 32),
        ("d" * 32, 4, "merge", '["(erased)", "inf_000000000b"]', '["inf_000000000b"]', ""),
    ]
    try:
        with old.begin() as c:
            command.upgrade(HISTORY.config(c), "0014")
            for audit_id, position, action, before, after, undoes in rows:
                c.execute(sa.text("INSERT INTO audit (audit_id, position, time_s, action, actor, before_ids, "
                                  "after_ids, undoes) VALUES (:a, :p, 1.0, :action, 'cli:ann', :b, :f, :u)"),
                          {"a": audit_id, "p": position, "action": action, "b": before, "f": after, "u": undoes})
    finally:
        old.dispose()
    store = AnalyticsStore(url)
    try:
        took = store.audit_leaving("inf_000000000a")
        assert took is not None and took.audit_id == "a" * 32
        assert [store.audit_leaving(f"inf_000000000{k}") for k in "bcd"] == [None, None, None]
        assert [store.audit_leaving(i) for i in ("(erased)", "")] == [None, None]
    finally:
        store.close()
    assert _revision(url) == HISTORY.head() and _differences(url) == []
