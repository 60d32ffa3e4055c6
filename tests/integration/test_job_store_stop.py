"""A job stopped on a full disk hands back the rows it dropped, for the runner to record as not processed: only
those. On PostgreSQL a claim taking a row at that moment (its row locked, not yet committed) left the row running
while stop() listed it as dropped too, so it was recorded twice: processed, and "not processed". And a claim of a
queued job's first row, at the moment a cancel comes, no longer deadlocks with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from influencers.v1 import common_pb2, ingest_pb2
from services.common.database import database_url, open_engine
from services.ingest.job_store import NOT_RUN, PENDING, RUNNING, TAKEN, JobStore, migrate, rows_t


def test_a_row_a_claim_takes_while_the_job_stops_is_not_among_the_rows_stop_dropped(postgres_url, tmp_path: Path):
    engine = open_engine(database_url(postgres_url, tmp_path / "unused"))
    try:
        migrate(engine)
        store = JobStore(engine)
        job = store.submit(ingest_pb2.StartIngestRequest(videos=[
            ingest_pb2.VideoSubmission(url=f"https://cdn.example/{k}.mp4") for k in range(3)]), {})
        assert store.claim_row("replica-a") is not None  # the job is running: a claim no longer writes its row
        dropped: list[int] = []
        with engine.connect() as claiming:
            taking = claiming.begin()  # another replica's claim of row 2, not yet committed
            claiming.execute(sa.select(rows_t.c.idx).where(rows_t.c.job_id == job.job_id, rows_t.c.idx == 1,
                                                           rows_t.c.state == PENDING).with_for_update())
            claiming.execute(rows_t.update().where(rows_t.c.job_id == job.job_id, rows_t.c.idx == 1)
                             .values(state=TAKEN, lease_owner="replica-b", lease_expires_s=time.time() + 30))
            stopping = threading.Thread(target=lambda: dropped.extend(c.idx for c in store.stop(job.job_id)))
            stopping.start()
            stopping.join(timeout=1.0)  # it waits for the claim's row
            taking.commit()
            stopping.join(timeout=10)
        assert not stopping.is_alive()
        assert dropped == [2]
    finally:
        engine.dispose()


def _waits_on_a_lock(engine: sa.Engine, other: threading.Thread, timeout_s: float = 10.0) -> bool:
    """Whether another session of this database waits on a lock (a row's or a job's), within `timeout_s`; False
    as soon as `other` ends without waiting."""
    deadline = time.monotonic() + timeout_s
    with engine.connect() as watching:
        while time.monotonic() < deadline and other.is_alive():
            waiting = watching.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            watching.rollback()  # pg_stat_activity is read once a transaction: the next look, a fresh one
            if waiting:
                return True
            time.sleep(0.01)
    return False


def _second_comes_while_first_holds(engine: sa.Engine, first: Callable[[], object], second: Callable[[], object],
                                    when: Callable[[str], bool], wait_s: float = 10.0) -> dict[str, object]:
    """Runs `first` on a thread; the moment it has run a statement `when` picks (the lock it takes just taken),
    `second` starts on another and runs until it waits on a lock (at most `wait_s`). Returns what each returned or
    raised (a deadlock's abort) as "first" and "second" (missing: still running after 30 s), and "second waited":
    whether it waited on a lock."""
    outcome: dict[str, object] = {}

    def kept(key: str, call: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                outcome[key] = call()
            except Exception as exc:  # noqa: BLE001 - the deadlock's abort, for the test to assert on
                outcome[key] = exc
        return run

    seconding = threading.Thread(target=kept("second", second))

    def locked(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread() is firsting and when(statement) and seconding.ident is None:
            seconding.start()
            outcome["second waited"] = _waits_on_a_lock(engine, seconding, wait_s)

    firsting = threading.Thread(target=kept("first", first))
    sa.event.listen(engine, "after_cursor_execute", locked)
    try:
        firsting.start()
        firsting.join(30)
        seconding.join(30)
    finally:
        sa.event.remove(engine, "after_cursor_execute", locked)
    return outcome


def _row_locked(statement: str) -> bool:
    return "FROM ingest_rows" in statement and "FOR UPDATE" in statement


@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_a_claim_of_a_queued_jobs_row_and_a_cancel_at_that_moment_both_complete_without_a_deadlock(
        postgres_url, tmp_path: Path, how: str):
    # Before: the claim locked the row, then the job (queued: it starts it); the cancel locked the job, then the
    # job's pending rows. Between the two, PostgreSQL found the deadlock and aborted one (`deadlock detected`).
    engine = open_engine(database_url(postgres_url, tmp_path / "unused"))
    try:
        migrate(engine)
        store = JobStore(engine)
        job = store.submit(ingest_pb2.StartIngestRequest(videos=[
            ingest_pb2.VideoSubmission(url=f"https://cdn.example/{k}.mp4") for k in range(3)]), {})
        # The claim has just locked its row: the cancel comes now, and runs until it waits on a lock.
        outcome = _second_comes_while_first_holds(
            engine, lambda: store.claim_row("replica-a"),
            lambda: [c.idx for c in store.cancel_rows(job.job_id, "why" if how == "stop" else "")[1]], _row_locked)
        claimed, cancelled = outcome["first"], outcome["second"]
        assert outcome.get("second waited") is True, "the cancel came while the claim held its locks"
        assert not isinstance(claimed, Exception), claimed
        assert not isinstance(cancelled, Exception), cancelled
        assert claimed.idx == 0 and cancelled == [1, 2], "the row taken runs; the others not"
        with engine.connect() as conn:
            states = conn.execute(sa.select(rows_t.c.state).where(rows_t.c.job_id == job.job_id)
                                  .order_by(rows_t.c.idx)).scalars().all()
        assert states == [TAKEN, NOT_RUN, NOT_RUN]
        after = store.get(job.job_id)
        assert after.cancel_requested and after.state == RUNNING
    finally:
        engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_late_row_finishing_as_its_cancelled_job_is_taken_for_finalising_completes_without_a_deadlock(
        postgres_url, tmp_path: Path):
    # Before: the finish locked its row, then the job (its done count); the finaliser locked the job, then the
    # job's rows still taken. A row whose lease ran out while it ran, of a cancelled job, deadlocked the two.
    engine = open_engine(database_url(postgres_url, tmp_path / "unused"))
    clock = Clock()
    try:
        migrate(engine)
        store = JobStore(engine, lease_s=30.0, clock=clock)
        job = store.submit(ingest_pb2.StartIngestRequest(videos=[
            ingest_pb2.VideoSubmission(url=f"https://cdn.example/{k}.mp4") for k in range(2)]), {})
        late = store.claim_row("replica-a")
        store.cancel(job.job_id)
        record = store.claim_not_run("replica-b")  # row 1's "not processed" record, written before the job ends
        assert record.idx == 1 and store.not_run_recorded(record)
        clock.now += 31  # its lease ran out while it ran: the job may be finalised
        done = ingest_pb2.WatchJobResponse(video=common_pb2.Video(url=late.submission.url,
                                                                  status=common_pb2.VIDEO_STATUS_DONE))
        outcome = _second_comes_while_first_holds(engine, lambda: store.finish_row(late, done, "id-0"),
                                                  lambda: store.claim_finalize("replica-b"), _row_locked)
        finished, finalised = outcome["first"], outcome["second"]
        assert not isinstance(finished, Exception), finished
        assert not isinstance(finalised, Exception), finalised
        assert finished is True, "the late row's result is kept"
        fin = finalised or store.claim_finalize("replica-b")  # after the finish, when it was skipped
        assert fin.job_id == job.job_id and fin.processed_video_ids == ["id-0"]
        assert store.end_job(job.job_id, fin.lease)
        assert store.get(job.job_id).done == 1
    finally:
        engine.dispose()


def test_a_row_given_back_as_its_job_is_cancelled_is_not_left_pending_in_the_cancelled_job(
        postgres_url, tmp_path: Path):
    # Before: the give-back read the job's cancel flag unlocked. Its update done (pending again, not committed), a
    # cancel's update of the pending rows saw the row still taken and passed it by: once both committed, the row
    # was pending in a cancelled job, which no claim takes and no finaliser ends (the job ran for ever).
    engine = open_engine(database_url(postgres_url, tmp_path / "unused"))
    try:
        migrate(engine)
        store = JobStore(engine, lease_s=30.0)
        job = store.submit(ingest_pb2.StartIngestRequest(videos=[
            ingest_pb2.VideoSubmission(url=f"https://cdn.example/{k}.mp4") for k in range(2)]), {})
        given_back = store.claim_row("replica-a")  # its batch could not open: it gives the row back
        # The give-back has just written its row: the cancel comes now (done, or waiting for the give-back).
        outcome = _second_comes_while_first_holds(engine, lambda: store.release(given_back),
                                                  lambda: store.cancel(job.job_id),
                                                  lambda statement: statement.startswith("UPDATE ingest_rows"), 2.0)
        assert "first" in outcome and "second" in outcome, "both ended"
        assert not isinstance(outcome["first"], Exception) and not isinstance(outcome["second"], Exception), outcome
        with engine.connect() as conn:
            states = conn.execute(sa.select(rows_t.c.state).where(rows_t.c.job_id == job.job_id)
                                  .order_by(rows_t.c.idx)).scalars().all()
        assert states == [NOT_RUN, NOT_RUN], "each row's record is to write; none is left pending"
    finally:
        engine.dispose()
