"""Two analytics followers on one real PostgreSQL database: exactly one applies identity's feed (a session
advisory lock on its own connection), and when the leader's connection dies the other takes over within 10 s."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from services.analytics.feed import AdvisoryLock, Follower, FollowerThread
from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.common.database import open_engine
from tests.support.feed_fakes import ANN, BOB, V1, FakeIdentity, appearance, change


def wait_until(predicate, timeout_s: float) -> float:
    """Seconds until `predicate()` held; fails after `timeout_s`."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout_s, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def engine(postgres_url):
    e = open_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield e
    e.dispose()


def test_one_follower_leads_and_the_other_takes_over_within_seconds_when_its_connection_dies(engine, tmp_path):
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")  # the replicas' shared system of record
    store.record_video(VideoRow(url="/v/1.mp4", video_id=V1, performance=1.0, status=DONE))
    identity = FakeIdentity()
    a = FollowerThread(Follower(identity, store), AdvisoryLock(engine), idle_s=0.05, retry_s=0.2).start()
    b = FollowerThread(Follower(identity, store), AdvisoryLock(engine), idle_s=0.05, retry_s=0.2)
    try:
        wait_until(lambda: a.leading, 10)
        b.start()
        time.sleep(1.0)
        assert not b.leading, "the lock is held: one replica applies"
        identity.publish(change((V1, [appearance(ANN)])))
        wait_until(lambda: store.feed_position() == 1, 5)

        a._stop.set()  # the leader dies: its thread stops, and its session ends with it
        with engine.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                                  " AND granted AND pid != pg_backend_pid()"))
            admin.commit()
        took = wait_until(lambda: b.leading, 10)
        identity.publish(change((V1, [appearance(BOB)])))
        wait_until(lambda: store.feed_position() == 2, 5)
        assert [x.influencer_id for x in store.appearances_in(V1)] == [BOB]
        assert took < 10
    finally:
        a.stop()
        b.stop()
        store.close()
