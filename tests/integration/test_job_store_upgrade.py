"""Ingest's job store after the upgrade that made media times Durations (migration 0004), on SQLite and on a
real PostgreSQL server: a job left running by the release before, with a finished row's result in the old
bytes (tests/support/legacy_bytes.py) and a row still to do, replays that result with its times, and the row
still to do is taken as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from influencers.v1 import ingest_pb2
from services.common.database import database_url, open_engine
from services.common.protoconv import seconds, seconds_by_key
from services.ingest.job_store import FINISHED, HISTORY, PENDING, RUNNING, JobStore, jobs_t, migrate, rows_t
from tests.support.legacy_bytes import LEGACY_RESULT, RESULT_APPEARANCE, RESULT_DURATION_S, RESULT_STAGES

BEFORE = "0002_repost_signatures"  # the head of the release before Durations
JOB = "0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path: Path):
    if request.param == "sqlite":
        url = database_url("", tmp_path / "ingest" / "jobs.sqlite3")
    else:
        url = database_url(request.getfixturevalue("postgres_url"), tmp_path / "unused")
    made = open_engine(url)
    yield made
    made.dispose()


def old_queue(engine: sa.Engine) -> None:
    """The queue as the release before left it: at its head revision, one job running, row 0 finished (its
    result in the old bytes), row 1 pending."""
    with engine.connect() as conn, conn.begin():
        command.upgrade(HISTORY.config(conn), BEFORE)
        conn.execute(jobs_t.insert().values(
            job_id=JOB, state=RUNNING, total=2, done=1, base_dir="/m", created_s=1.0, started_s=2.0, ended_s=0.0,
            error="", cancel_requested=False, changed_videos=0, finalizer=None, finalizer_expires_s=0.0))
        for idx, url in enumerate(("a.mp4", "b.mp4")):
            finished = idx == 0
            conn.execute(rows_t.insert().values(
                job_id=JOB, idx=idx, submission=ingest_pb2.VideoSubmission(url=url).SerializeToString(),
                state=FINISHED if finished else PENDING, lease_owner=None, lease_expires_s=0.0,
                attempts=1 if finished else 0, video_id="00000000000000aa" if finished else "",
                processed_video_id="00000000000000aa" if finished else "", status="done" if finished else "",
                done_seq=1 if finished else None, result=LEGACY_RESULT if finished else None))


def test_a_running_jobs_old_result_replays_with_its_times_and_its_other_row_is_taken_after_the_upgrade(
        engine) -> None:
    old_queue(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert HISTORY.current(conn) == HISTORY.head()
    store = JobStore(engine)
    got = store.results(JOB)
    assert got is not None
    (result,), state = got
    assert state == RUNNING
    assert seconds(result.video.duration) == RESULT_DURATION_S and result.video.url == "a.mp4"
    assert seconds_by_key(result.stage_durations) == RESULT_STAGES
    (a,) = result.appearances
    assert (seconds(a.first_seen), seconds(a.last_seen), seconds(a.screen_time),
            tuple((seconds(s.start), seconds(s.end), seconds(s.best)) for s in a.segments)) == RESULT_APPEARANCE
    claim = store.claim_row("replica-2:nonce")
    assert claim is not None and (claim.job_id, claim.idx, claim.submission.url) == (JOB, 1, "b.mp4")


def test_migrating_again_leaves_the_converted_results_as_they_are(engine) -> None:
    old_queue(engine)
    migrate(engine)
    with engine.connect() as conn:
        once = conn.execute(sa.select(rows_t.c.result).where(rows_t.c.idx == 0)).scalar_one()
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(rows_t.c.result).where(rows_t.c.idx == 0)).scalar_one() == once
    assert bytes(once) != LEGACY_RESULT
