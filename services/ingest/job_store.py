"""The ingest job queue's state in SQL: one row a job, one row a submitted manifest row, each row with its
lease and, once it has an outcome, its result (the IngestProgress proto bytes, crop bytes left out).

Every replica takes rows of any job through a lease: the oldest claimable row (not started, or started by an
owner whose lease has expired) is selected `FOR UPDATE SKIP LOCKED` on PostgreSQL, so that two replicas
never wait for each other nor take the same row; on SQLite the same Core statement runs under `BEGIN
IMMEDIATE` (services/common/database.py), which serialises the takers. An owner (worker name + process nonce)
renews its leases while its rows run; each claim's lease is named apart (the owner and a nonce of the claim), so
that a worker thread whose lease expired, and whose row a sibling thread of the same owner took over, can no
longer give back, note or finish that row; a SIGKILLed owner's leases expire after `lease_s` seconds and another
owner takes the row again (`attempts` > 1, and `video_id` says which video the dead attempt had started).
A job whose rows all have an outcome is finalised (reconciled, then ended) by one owner, under the same kind
of lease, so a finaliser that dies is replaced too.

A row a cancel or a stop kept from running (one not started, one given back after the cancel, one whose owner
died) is NOT_RUN until its "not processed" record is written: taken under a lease as a row is (claim_not_run),
then DROPPED once recorded (not_run_recorded), so that a process killed in between leaves the row to whoever
takes it next, or to the next start, and no row is left out of videos.csv. Its URL as given stays until then
(the record is keyed by its location: a signed link's secrets digested, which a hidden secret would not give).

Locks are taken in one order, a job's row before its rows (cancel_rows, claim_row of a queued job, release,
finish_row, claim_finalize, end_job): on PostgreSQL a claim that locked a row and then the job, against a cancel that
locked the job and then that row, deadlocked (PostgreSQL aborts one of the two), and so did a finish against a
finaliser.

Why hand-written SKIP LOCKED rather than procrastinate or pgqueuer: both are PostgreSQL-only (LISTEN/NOTIFY,
PL/pgSQL), while the embedded default must keep working on SQLite with the same code; both model a task
per message, while a job here is a catalogue whose rows share a finalisation step (reconcile once, after the
last row) and whose results are read back in order by watchers, which we would build beside the library
anyway. The queue is four statements on two tables, tested on both databases.

Times are seconds since the Unix epoch from each replica's clock (leases assume clocks within a second or
so of each other, as NTP keeps them). A job's times never run backwards: one replica may start a job and
another, its clock a little behind (or stepped back), end it, so a start is never before the job's creation
and an end never before its start.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from influencers.v1 import ingest_pb2
from services.common.database import is_postgres
from services.common.location_key import location_key
from services.common.migrations import History, upgrade
from services.common.protoconv import seconds, status_word, timestamp
from services.common.sqlite_log import LogScrubber, truncate_log
from services.common.url_secrets import links_hidden, path_link_keyed, path_userinfo_hidden, secrets_hidden
from services.ingest.request_ids import request_digest, reused

QUEUED, RUNNING = ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING
SUCCEEDED, FAILED = ingest_pb2.JOB_STATE_SUCCEEDED, ingest_pb2.JOB_STATE_FAILED
CANCELLED = ingest_pb2.JOB_STATE_CANCELLED
ENDED = frozenset({SUCCEEDED, FAILED, CANCELLED})
# A row's state.
PENDING, TAKEN, FINISHED, DROPPED = 0, 1, 2, 3
NOT_RUN = 4  # dropped by a cancel or a stop, its "not processed" record not yet written (then DROPPED)
ROW_STATE_WORDS = {PENDING: "pending", TAKEN: "running", FINISHED: "finished", DROPPED: "dropped", NOT_RUN: "dropped"}
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x1A6E57  # pg advisory lock key: two replicas starting at once migrate one after the other
VERSION_TABLE = "alembic_version_jobs"  # the queue's own history, apart from analytics' in a shared database
HISTORY = History("ingest job queue", MIGRATIONS, VERSION_TABLE, MIGRATION_LOCK,
                  when_removed="the job history is lost; a manifest run again analyses only the videos not yet held")
LIST_ENDED = 20  # ended jobs ListJobs shows (the newest); older ones stay readable by id
LEASE_SEP = "/"  # between a lease's owner and its claim's nonce (new_lease)
# How JobStore.enqueued came by its job: stored by the call, held by the request's key, or an unfinished one resumed.
STORED, KEY_HELD, RESUMED = "stored", "key held", "resumed"
RESUME_LOCK = 0x1A6E58  # pg_advisory_xact_lock(key, resume_lock(digest)): one look-and-insert of a digest at a time

metadata = sa.MetaData()
jobs_t = sa.Table(
    "ingest_jobs", metadata,
    sa.Column("job_id", sa.String(32), primary_key=True), sa.Column("state", sa.Integer),
    sa.Column("total", sa.Integer), sa.Column("done", sa.Integer), sa.Column("base_dir", sa.Text),
    sa.Column("created_s", sa.Float), sa.Column("started_s", sa.Float), sa.Column("ended_s", sa.Float),
    sa.Column("error", sa.Text), sa.Column("cancel_requested", sa.Boolean), sa.Column("changed_videos", sa.Integer),
    sa.Column("finalizer", sa.String(200)), sa.Column("finalizer_expires_s", sa.Float),
    sa.Column("stop_reason", sa.Text, nullable=False, server_default=""),  # a stop's `why` (cancel_rows), or ""
    # StartIngestRequest.request_id (request_ids.request_key) and request_ids.request_digest of what it asked; NULL
    # without a key. Unique (migration 0007): of replicas racing to store one key, one inserts, the others find its job.
    sa.Column("request_id", sa.String(36)), sa.Column("request_digest", sa.String(64)),
    # When the job was first seen with every row's outcome, not ended (finalising_age; migration 0008); NULL before.
    sa.Column("finalising_since_s", sa.Float))
rows_t = sa.Table(
    "ingest_rows", metadata,
    sa.Column("job_id", sa.String(32), primary_key=True), sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("submission", sa.LargeBinary), sa.Column("state", sa.Integer), sa.Column("lease_owner", sa.String(200)),
    sa.Column("lease_expires_s", sa.Float), sa.Column("attempts", sa.Integer), sa.Column("video_id", sa.String(128)),
    sa.Column("processed_video_id", sa.String(128)), sa.Column("status", sa.String(32)),
    sa.Column("done_seq", sa.Integer), sa.Column("result", sa.LargeBinary))


class QueueFull(RuntimeError):
    """Too many jobs not yet ended (the message names the limit)."""


def migrate(engine: Engine) -> None:
    """Brings the queue's tables to the newest revision (services/common/migrations.py), and empties SQLite's log:
    migration 0005 hid the secrets of old rows' links, whose older pages the database file held until a
    checkpoint."""
    upgrade(engine, HISTORY)
    truncate_log(engine)



def resume_lock(digest: str) -> int:
    """The second key (a signed 32-bit integer) of a request digest's advisory lock (RESUME_LOCK). Two digests
    sharing it only wait for each other."""
    return int.from_bytes(hashlib.sha256(digest.encode()).digest()[:4], "big", signed=True)


def new_owner(worker: str) -> str:
    """A lease owner name: the worker's name and a nonce of this process (a restarted process is another)."""
    return f"{worker}:{uuid.uuid4().hex[:8]}"


def new_lease(owner: str) -> str:
    """One claim's lease name: `owner` and a nonce of the claim. The owner's threads share its name, and its
    heartbeat renews every lease named after it (renew); the nonce tells which claim holds the row."""
    return f"{owner}{LEASE_SEP}{uuid.uuid4().hex[:8]}"


def _leased_by(column: sa.ColumnElement[str], owner: str) -> sa.ColumnElement[bool]:
    """Whether `column` names a lease of `owner`'s (new_lease): an exact prefix comparison (LIKE is not, on
    SQLite: case-insensitive, and `_` a wildcard)."""
    prefix = f"{owner}{LEASE_SEP}"
    return sa.func.substr(column, 1, len(prefix)) == prefix


@dataclass(frozen=True)
class Claim:
    """A row taken under a lease. `previous_video_id`: the video an earlier, dead attempt had started; `lease`:
    this claim's lease name (new_lease), which the row keeps while the claim holds it. `not_run`: a row a cancel
    or a stop kept from running, taken for its "not processed" record (claim_not_run), not to be analysed."""

    job_id: str
    idx: int
    submission: ingest_pb2.VideoSubmission
    base_dir: str
    attempts: int
    previous_video_id: str
    lease: str = ""
    not_run: bool = False


@dataclass(frozen=True)
class Finalising:
    """A job whose rows all have an outcome, taken for its reconcile: the videos its rows processed, and the
    finalisation's lease name (new_lease)."""

    job_id: str
    processed_video_ids: list[str]
    lease: str = ""


class JobStore:
    """The queue's SQL operations; every method is one short transaction (none waits on anything)."""

    def __init__(self, engine: Engine, lease_s: float = 30.0, max_active_jobs: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.lease_s = lease_s
        self.max_active_jobs = max_active_jobs
        self.clock = clock
        # The store as a full disk's refusal names it (IngestProcess names its file or database).
        self.where = "the ingest job store"
        # A link's secret hidden in a row stays in SQLite's log's older page images until the log is emptied
        self.log_scrubber = LogScrubber(engine)

    # ---- jobs -------------------------------------------------------------------------------------------

    def submit(self, request: ingest_pb2.StartIngestRequest,
               settled: dict[int, ingest_pb2.WatchJobResponse], digest: str = "") -> ingest_pb2.Job:
        """Stores a job of `request`'s rows (state QUEUED); the rows of `settled` have their outcome
        already (in index order: they are the first progress messages). Raises QueueFull. A request with a key
        (request_id, in its stored form) stores it with `digest` (request_ids.request_digest of the request as its
        caller sent it, before jobs.prepared; of `request` when empty). A key a job holds stores nothing: that job
        is returned, or RequestIdReused raised when another request made it (earlier)."""
        return self.submitted(request, settled, digest)[0]

    def submitted(self, request: ingest_pb2.StartIngestRequest, settled: dict[int, ingest_pb2.WatchJobResponse],
                  digest: str = "") -> tuple[ingest_pb2.Job, bool]:
        """submit, and whether this call stored the job (False: a job held the request's key)."""
        job, how = self.enqueued(request, settled, digest)
        return job, how == STORED

    def enqueued(self, request: ingest_pb2.StartIngestRequest, settled: dict[int, ingest_pb2.WatchJobResponse],
                 digest: str = "", resume: bool = False) -> tuple[ingest_pb2.Job, str]:
        """submit, and how the job came: STORED by this call, KEY_HELD (a job held the request's key), or
        RESUMED. `resume` (StartIngestRequest.resume_unfinished): the oldest unfinished job of `digest` (unfinished)
        is answered and nothing stored, the look and the insert in one transaction, so that identical submissions
        at the same instant queue one job: on SQLite the transaction is BEGIN IMMEDIATE (one writer at a time), on
        PostgreSQL it first takes a transaction advisory lock of the digest (resume_lock), which every replica
        resuming those rows waits for; a replica of the release before takes none and queues a job, as it did."""
        if request.request_id and not digest:
            digest = request_digest(request)
        try:
            return self._insert(request, settled, digest, resume)
        except sa.exc.IntegrityError:
            # On PostgreSQL another replica stored this key between our look and our insert (its transaction held
            # the unique index; ours waited for its commit, then met the key): answer its job. On SQLite a
            # writer waits for the other's commit before its look, and finds the job there.
            with self.engine.connect() as conn:
                if (job := self._earlier(conn, request.request_id, digest)) is None:
                    raise
            return job, KEY_HELD

    def earlier(self, request: ingest_pb2.StartIngestRequest, digest: str = "") -> ingest_pb2.Job | None:
        """The job stored for the key of `request` (request_id, in its stored form; the request as its caller
        sent it), or None when it has no key or no job holds it. RequestIdReused naming the key and the job when
        another request made that job. `digest`: request_ids.request_digest(request), hashed here when empty."""
        if not request.request_id:
            return None
        with self.engine.connect() as conn:
            return self._earlier(conn, request.request_id, digest or request_digest(request))

    def unfinished(self, digest: str) -> ingest_pb2.Job | None:
        """The oldest job not ended and not cancelled (queued or running) that a request of `digest`
        (request_ids.request_digest) made, or None: the job a manifest run again after its client was killed
        resumes (StartIngestRequest.resume_unfinished), rather than queueing a twin that waits behind it."""
        if not digest:
            return None
        with self.engine.connect() as conn:
            return self._unfinished_job(conn, digest)

    def _unfinished_job(self, conn: sa.Connection, digest: str) -> ingest_pb2.Job | None:
        job_id = conn.execute(sa.select(jobs_t.c.job_id).where(
            jobs_t.c.request_digest == digest, jobs_t.c.state.in_([QUEUED, RUNNING]),
            jobs_t.c.cancel_requested == sa.false()).order_by(jobs_t.c.created_s, jobs_t.c.job_id).limit(1)
        ).scalar_one_or_none()
        return None if job_id is None else self._job(conn, job_id)

    def _earlier(self, conn: sa.Connection, request_id: str, digest: str) -> ingest_pb2.Job | None:
        held = conn.execute(sa.select(jobs_t.c.job_id, jobs_t.c.request_digest)
                            .where(jobs_t.c.request_id == request_id)).first()
        if held is None:
            return None
        if held.request_digest != digest:
            raise reused(request_id, held.job_id)
        return self._job(conn, held.job_id)

    def _insert(self, request: ingest_pb2.StartIngestRequest, settled: dict[int, ingest_pb2.WatchJobResponse],
                digest: str, resume: bool) -> tuple[ingest_pb2.Job, str]:
        job_id, now, total = uuid.uuid4().hex[:16], self.clock(), len(request.videos)
        with self.engine.begin() as conn:
            if resume and digest and is_postgres(self.engine):
                # Held until commit: a twin's look waits for this insert, then sees it (READ COMMITTED reads
                # what committed before each statement).
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(RESUME_LOCK, resume_lock(digest))))
            # Before the queue's limit: a retry of a stored submission is answered even when the queue is full.
            if request.request_id and (job := self._earlier(conn, request.request_id, digest)) is not None:
                return job, KEY_HELD
            # So is a resumed one: it queues nothing.
            if resume and digest and (job := self._unfinished_job(conn, digest)) is not None:
                return job, RESUMED
            active = conn.execute(sa.select(sa.func.count()).select_from(jobs_t)
                                  .where(jobs_t.c.state.in_([QUEUED, RUNNING]))).scalar_one()
            if active >= self.max_active_jobs:
                raise QueueFull(f"{active} ingest jobs are queued or running, the limit "
                                f"(INFLUENCERS_MAX_ACTIVE_JOBS={self.max_active_jobs}); retry when one has ended")
            conn.execute(jobs_t.insert().values(
                job_id=job_id, state=QUEUED, total=total, done=0, base_dir=request.base_dir, created_s=now,
                started_s=0.0, ended_s=0.0, error="", cancel_requested=False, changed_videos=0,
                finalizer=None, finalizer_expires_s=0.0, request_id=request.request_id or None,
                request_digest=digest or None))
            rows = []
            seq = 0
            for k, sub in enumerate(request.videos):
                kept_sub = submission_without_secrets(sub) if k in settled else sub  # a settled row is never fetched
                row = dict(job_id=job_id, idx=k, submission=kept_sub.SerializeToString(), state=PENDING,
                           lease_owner=None, lease_expires_s=0.0, attempts=0, video_id="", processed_video_id="",
                           status="", done_seq=None, result=None)
                if k in settled:
                    seq += 1
                    progress = _kept(settled[k], seq, total)
                    row.update(state=FINISHED, status=status_word(progress.video.status), done_seq=seq,
                               result=progress.SerializeToString())
                rows.append(row)
            if rows:
                conn.execute(rows_t.insert(), rows)
            if seq:
                conn.execute(jobs_t.update().where(jobs_t.c.job_id == job_id).values(done=seq))
            return self._job(conn, job_id), STORED  # type: ignore[return-value]

    def get(self, job_id: str) -> ingest_pb2.Job | None:
        with self.engine.connect() as conn:
            return self._job(conn, job_id)

    def list(self, ended: int = LIST_ENDED) -> list[ingest_pb2.Job]:
        """The newest `ended` ended jobs, then the running and queued ones, in the order they were created."""
        with self.engine.connect() as conn:
            old = conn.execute(sa.select(jobs_t.c.job_id).where(jobs_t.c.state.in_(list(ENDED)))
                               .order_by(jobs_t.c.ended_s.desc()).limit(ended)).scalars().all()
            live = conn.execute(sa.select(jobs_t.c.job_id).where(jobs_t.c.state.in_([QUEUED, RUNNING]))).scalars().all()
            jobs = [j for j in (self._job(conn, i) for i in [*old, *live]) if j is not None]
        return sorted(jobs, key=lambda j: (seconds(j.create_time), j.job_id))

    def active_jobs(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(jobs_t)
                                .where(jobs_t.c.state.in_([QUEUED, RUNNING]))).scalar_one()

    def cancel(self, job_id: str) -> ingest_pb2.Job | None:
        """Rows not started are not run (NOT_RUN: their "not processed" record is still to write, claim_not_run);
        rows running finish. A job with nothing running, nothing processed and no record to write ends CANCELLED
        at once; else its finaliser ends it once the records are written, after its reconcile."""
        return self.cancel_rows(job_id)[0]

    def stop(self, job_id: str, why: str = "") -> list[Claim]:
        """Cancels the job as `cancel` does (a full disk stopped it); `why` becomes the row error of each row it
        kept from starting (a row error of its own is kept), which their records say, and is kept with the job for
        the rows running then that are not run after all (given back, or their owner died: claim_not_run); the job
        ends once they are written, never at once. Returns the rows kept from starting."""
        return self.cancel_rows(job_id, why)[1]

    def cancel_rows(self, job_id: str, why: str = "") -> tuple[ingest_pb2.Job | None, list[Claim]]:
        """`cancel` (a user's, `why` "": the recorder says the job was cancelled) and `stop` in one: the job as
        cancelled, and the rows the cancel kept from starting, as they were given (unleased)."""
        now = self.clock()
        dropped: list[Claim] = []
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(jobs_t.c.state, jobs_t.c.base_dir).where(jobs_t.c.job_id == job_id)
                                 .with_for_update()).first()
            if found is None:
                return None, []
            state, base_dir = found
            if state not in ENDED:
                # A stop's reason is kept unless a cancel came first: the rows that cancel left say "cancelled".
                stopped = {"stop_reason": why} if why else {}
                conn.execute(jobs_t.update().where(jobs_t.c.job_id == job_id, jobs_t.c.cancel_requested == sa.false())
                             .values(cancel_requested=True, **stopped))
                # One statement: a row a claim is taking now is waited for, then is no longer pending; a row given
                # back meanwhile (release) is pending again, and so among these.
                taken = conn.execute(rows_t.update().where(rows_t.c.job_id == job_id, rows_t.c.state == PENDING)
                                     .values(state=NOT_RUN, lease_owner=None, lease_expires_s=0.0)
                                     .returning(rows_t.c.idx, rows_t.c.submission, rows_t.c.attempts,
                                                rows_t.c.video_id)).all()
                told = []
                for idx, blob, attempts, video_id in sorted(taken, key=lambda r: r.idx):
                    sub = ingest_pb2.VideoSubmission.FromString(blob)
                    dropped.append(Claim(job_id, idx, sub, base_dir, attempts or 0, video_id or ""))
                    if why and not sub.row_error:
                        told_sub = ingest_pb2.VideoSubmission()
                        told_sub.CopyFrom(sub)
                        told_sub.row_error = why
                        told.append({"b_idx": idx, "b_sub": told_sub.SerializeToString()})
                if told:  # kept in the row: whoever writes its record, after a kill too, says why
                    conn.execute(rows_t.update().where(rows_t.c.job_id == job_id, rows_t.c.idx == sa.bindparam("b_idx"))
                                 .values(submission=sa.bindparam("b_sub")), told)
                busy = conn.execute(sa.select(sa.func.count()).select_from(rows_t).where(
                    rows_t.c.job_id == job_id,
                    sa.or_(rows_t.c.state == TAKEN, rows_t.c.processed_video_id != ""))).scalar_one()
                # A cancelled or stopped job ends once its rows' records are written (claim_finalize): a client
                # that waits for its end (`influencers run` exports the report then) reads them. Ended at once when
                # nothing was running (a user's cancel of a queued job, or between rows), it missed them.
                unrecorded = conn.execute(sa.select(rows_t.c.idx).where(rows_t.c.job_id == job_id,
                                                                        rows_t.c.state == NOT_RUN).limit(1)).first()
                if not busy and unrecorded is None:
                    conn.execute(jobs_t.update().where(jobs_t.c.job_id == job_id)
                                 .values(state=CANCELLED, ended_s=_ended(now), finalizer=None))
            return self._job(conn, job_id), dropped

    # ---- rows -------------------------------------------------------------------------------------------

    def claim_row(self, owner: str) -> Claim | None:
        """Takes the oldest claimable row of any job not cancelled (FIFO by job, then row), or None."""
        now, lease = self.clock(), new_lease(owner)
        with self.engine.begin() as conn:
            jobs = conn.execute(sa.select(jobs_t.c.job_id, jobs_t.c.base_dir, jobs_t.c.state)
                                .where(jobs_t.c.cancel_requested == sa.false(), jobs_t.c.state.in_([QUEUED, RUNNING]))
                                .order_by(jobs_t.c.created_s, jobs_t.c.job_id)).all()
            for job in jobs:  # a few: the active jobs are capped (max_active_jobs)
                # A queued job's claim writes the job too: its row is locked first, as a cancel locks it (a job's
                # row, then its rows); locked after the row, a cancel between the two deadlocked on PostgreSQL.
                if job.state == QUEUED and not _still_open(conn, job.job_id):
                    continue
                row = _first_claimable(conn, job.job_id, now)
                if row is not None:
                    break
            else:
                return None
            conn.execute(rows_t.update().where(rows_t.c.job_id == job.job_id, rows_t.c.idx == row.idx).values(
                state=TAKEN, lease_owner=lease, lease_expires_s=self._lease_end(), attempts=row.attempts + 1))
            if job.state == QUEUED:
                conn.execute(jobs_t.update().where(jobs_t.c.job_id == job.job_id, jobs_t.c.state == QUEUED)
                             .values(state=RUNNING, started_s=_not_before(now, jobs_t.c.created_s)))
        sub = ingest_pb2.VideoSubmission()
        sub.ParseFromString(row.submission)
        return Claim(job.job_id, row.idx, sub, job.base_dir, row.attempts + 1, row.video_id, lease)

    def _lease_end(self) -> float:
        """When a lease taken now ends: `lease_s` from the clock read as the claim writes it, never from the time
        the claim began (which picks what has expired): a claim that waited for a connection or a lock longer than
        the lease took its row with the lease spent, and another thread took the row over at once (run twice)."""
        return self.clock() + self.lease_s

    def release(self, claim: Claim) -> None:
        """Gives back a row `claim` took but did not start (opening its batch failed): pending again, its attempt
        not counted. Kept, its lease would be renewed by the owner's heartbeat for as long as the process lives.
        A row of a job cancelled meanwhile is not run, as cancel treats the pending ones (NOT_RUN: its record is
        still to write): pending, no one would take it and the job would never end. A `not_run` claim's row waits
        for its record again. Nothing changes when `claim` no longer holds the row (its lease expired and another
        claim, of any thread, took it)."""
        held = sa.and_(rows_t.c.job_id == claim.job_id, rows_t.c.idx == claim.idx, rows_t.c.lease_owner == claim.lease)
        with self.engine.begin() as conn:
            if claim.not_run:
                conn.execute(rows_t.update().where(held, rows_t.c.state == NOT_RUN)
                             .values(lease_owner=None, lease_expires_s=0.0))
                return
            # The job's cancel flag read under its lock (the job before its row, as a cancel takes them): read
            # unlocked, a cancel committing meanwhile passed the row by as taken, and it stayed pending in a
            # cancelled job, which no claim takes and no finaliser ends.
            cancelled = conn.execute(sa.select(jobs_t.c.cancel_requested).where(jobs_t.c.job_id == claim.job_id)
                                     .with_for_update()).scalar_one_or_none()
            conn.execute(rows_t.update().where(held, rows_t.c.state == TAKEN)
                         .values(state=NOT_RUN if cancelled else PENDING,
                                 lease_owner=None, lease_expires_s=0.0, attempts=claim.attempts - 1))

    def claim_not_run(self, owner: str) -> Claim | None:
        """Takes, under a lease, the first row of any job whose "not processed" record is still to write (NOT_RUN,
        unleased or its lease expired), or None. Its submission is as given, told why when a stop said (cancel_rows,
        or the job's stop_reason for a row given back after the stop, or whose owner died: before, such a row said
        its job was cancelled); the job may have ended. The record done, not_run_recorded; given back, release."""
        now, lease = self.clock(), new_lease(owner)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(rows_t.c.job_id, rows_t.c.idx, rows_t.c.submission, rows_t.c.attempts)
                               .where(rows_t.c.state == NOT_RUN,
                                      sa.or_(rows_t.c.lease_owner.is_(None), rows_t.c.lease_expires_s < now))
                               .order_by(rows_t.c.state, rows_t.c.job_id, rows_t.c.idx).limit(1)  # the index's order
                               .with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            base_dir, why = conn.execute(sa.select(jobs_t.c.base_dir, jobs_t.c.stop_reason)
                                         .where(jobs_t.c.job_id == row.job_id)).one()
            conn.execute(rows_t.update().where(rows_t.c.job_id == row.job_id, rows_t.c.idx == row.idx)
                         .values(lease_owner=lease, lease_expires_s=self._lease_end()))
        sub = ingest_pb2.VideoSubmission.FromString(row.submission)
        sub.row_error = sub.row_error or why or ""  # a row error of its own is kept
        return Claim(row.job_id, row.idx, sub, base_dir, row.attempts or 0, "", lease, not_run=True)

    def not_run_recorded(self, claim: Claim) -> bool:
        """Marks the row of a `not_run` claim recorded (DROPPED, its URL's secrets forgotten). False, and nothing
        changed, when `claim` no longer holds the row (its lease expired and another claim took it: that one
        writes the same record again, at the same key, and marks it)."""
        with self.engine.begin() as conn:
            marked = conn.execute(rows_t.update().where(
                rows_t.c.job_id == claim.job_id, rows_t.c.idx == claim.idx, rows_t.c.lease_owner == claim.lease,
                rows_t.c.state == NOT_RUN).values(
                state=DROPPED, lease_owner=None,
                submission=submission_without_secrets(claim.submission).SerializeToString())).rowcount > 0
        if marked and _has_secrets(claim.submission):
            self.log_scrubber.removed()
        return marked

    def give_up_not_run(self, job_id: str) -> int:
        """Leaves the job's rows whose record is still to write, and that no live claim holds, out of the records
        (DROPPED, secrets forgotten): their records would meet the full disk one met. Returns how many."""
        now = self.clock()
        with self.engine.begin() as conn:
            n = conn.execute(rows_t.update().where(
                rows_t.c.job_id == job_id, rows_t.c.state == NOT_RUN,
                sa.or_(rows_t.c.lease_owner.is_(None), rows_t.c.lease_expires_s < now))
                .values(state=DROPPED, lease_owner=None)).rowcount
            forgot = _forget_secrets(conn, job_id, [DROPPED])
        if forgot:
            self.log_scrubber.removed()
        return n

    def note_video(self, claim: Claim, video_id: str) -> None:
        """Records which video `claim`'s attempt is about to analyse (so a replacement can forget it); nothing
        when `claim` no longer holds the row."""
        with self.engine.begin() as conn:
            conn.execute(rows_t.update().where(rows_t.c.job_id == claim.job_id, rows_t.c.idx == claim.idx,
                                               rows_t.c.lease_owner == claim.lease).values(video_id=video_id))

    def free_leases(self) -> int:
        """Makes every lease expire now, rows' and finalisations' alike, so that the next claims take them (as an
        expired lease, with the attempt counted and the dead attempt's video forgotten): only for a queue no
        other live process holds (queue_holders.py). Returns the rows freed."""
        with self.engine.begin() as conn:
            n = conn.execute(rows_t.update().where(rows_t.c.state.in_([TAKEN, NOT_RUN]),
                                                   rows_t.c.lease_owner.is_not(None))
                             .values(lease_expires_s=0.0)).rowcount
            conn.execute(jobs_t.update().where(jobs_t.c.finalizer.is_not(None), jobs_t.c.state.in_([QUEUED, RUNNING]))
                         .values(finalizer_expires_s=0.0))
        return n

    def renew(self, owner: str) -> int:
        """Extends every lease `owner`'s claims hold (rows and finalisations) by `lease_s`; returns the rows
        renewed. A lease one of its claims lost (taken over) is another claim's now, renewed as that one's."""
        until = self.clock() + self.lease_s
        with self.engine.begin() as conn:
            n = conn.execute(rows_t.update().where(_leased_by(rows_t.c.lease_owner, owner),
                                                   rows_t.c.state.in_([TAKEN, NOT_RUN]))
                             .values(lease_expires_s=until)).rowcount
            conn.execute(jobs_t.update().where(_leased_by(jobs_t.c.finalizer, owner),
                                               jobs_t.c.state.in_([QUEUED, RUNNING]))
                         .values(finalizer_expires_s=until))
        return n

    def resume_leases(self) -> int:
        """Gives every lease that ran out a fresh one of `lease_s` from now, rows' and finalisations' alike, for
        use after the disk was full: no owner could renew its leases then, so one that ran out meanwhile says
        nothing of its owner's death (taken over, it would count a dead attempt: a healthy row given up after
        five stalls). The rows of an owner that did die are taken one lease later. Returns the rows resumed."""
        now = self.clock()
        until = now + self.lease_s
        with self.engine.begin() as conn:
            n = conn.execute(rows_t.update().where(rows_t.c.state.in_([TAKEN, NOT_RUN]),
                                                   rows_t.c.lease_owner.is_not(None), rows_t.c.lease_expires_s < now)
                             .values(lease_expires_s=until)).rowcount
            conn.execute(jobs_t.update().where(jobs_t.c.finalizer.is_not(None), jobs_t.c.state.in_([QUEUED, RUNNING]),
                                               jobs_t.c.finalizer_expires_s < now)
                         .values(finalizer_expires_s=until))
        return n

    def row_counts(self) -> dict[str, int]:
        """Rows of the jobs not yet ended, by state word (every word of ROW_STATE_WORDS, 0 when none): one
        grouped count over those jobs' rows (the primary key's job_id prefix), never over ended jobs' rows."""
        with self.engine.connect() as conn:
            counted = conn.execute(sa.select(rows_t.c.state, sa.func.count()).join(
                jobs_t, jobs_t.c.job_id == rows_t.c.job_id).where(jobs_t.c.state.in_([QUEUED, RUNNING]))
                .group_by(rows_t.c.state)).all()
        counts = dict.fromkeys(ROW_STATE_WORDS.values(), 0)
        for state, n in counted:
            if state in ROW_STATE_WORDS:
                counts[ROW_STATE_WORDS[state]] += n
        return counts

    def live_video_ids(self) -> set[str]:
        """The videos rows are analysing right now under leases not expired (any replica's): a batch repair
        must not forget their faces, which analytics has not recorded yet because they are not done."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(rows_t.c.video_id).where(
                rows_t.c.state == TAKEN, rows_t.c.video_id != "",
                rows_t.c.lease_expires_s >= self.clock())).scalars().all())

    def analysed_elsewhere(self, claim: Claim) -> bool:
        """Whether a row other than `claim`'s is analysing `claim.previous_video_id` right now, under a lease not
        expired (the same bytes in another row or job): the faces a dead attempt left for that video are the
        other row's too, which it is about to record done, so `claim` must not forget them."""
        if not claim.previous_video_id:
            return False
        other = sa.not_(sa.and_(rows_t.c.job_id == claim.job_id, rows_t.c.idx == claim.idx))
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(rows_t.c.idx).where(
                rows_t.c.state == TAKEN, rows_t.c.video_id == claim.previous_video_id,
                rows_t.c.lease_expires_s >= self.clock(), other).limit(1)).first()
        return found is not None

    def finish_row(self, claim: Claim, progress: ingest_pb2.WatchJobResponse, processed_video_id: str = "") -> bool:
        """Stores the row's outcome (its `done`/`total` filled in, crops dropped). False, and nothing
        stored, when `claim` no longer holds the row (its lease expired and another claim took it)."""
        with self.engine.begin() as conn:
            # The job first (its done count is written below), then the row, as a finaliser locks them: the row
            # first deadlocked with a finaliser taking the cancelled job of a row whose lease ran out as it ran.
            conn.execute(sa.select(jobs_t.c.job_id).where(jobs_t.c.job_id == claim.job_id).with_for_update())
            held = conn.execute(sa.select(rows_t.c.state).where(
                rows_t.c.job_id == claim.job_id, rows_t.c.idx == claim.idx, rows_t.c.lease_owner == claim.lease,
                rows_t.c.state == TAKEN).with_for_update()).scalar_one_or_none()
            if held is None:
                return False
            done, total = conn.execute(jobs_t.update().where(jobs_t.c.job_id == claim.job_id)
                                       .values(done=jobs_t.c.done + 1)
                                       .returning(jobs_t.c.done, jobs_t.c.total)).one()
            kept = _kept(progress, done, total)
            conn.execute(rows_t.update().where(rows_t.c.job_id == claim.job_id, rows_t.c.idx == claim.idx).values(
                state=FINISHED, lease_owner=None, status=status_word(kept.video.status), done_seq=done,
                result=kept.SerializeToString(), processed_video_id=processed_video_id,
                submission=submission_without_secrets(claim.submission).SerializeToString()))
        if _has_secrets(claim.submission):
            self.log_scrubber.removed()
        return True

    def results(self, job_id: str, skip: int = 0, limit: int | None = None
                ) -> tuple[list[ingest_pb2.WatchJobResponse], int] | None:
        """The job's progress messages after the first `skip` (in completion order; at most `limit` of them,
        None: all), and its state."""
        with self.engine.connect() as conn:
            state = conn.execute(sa.select(jobs_t.c.state).where(jobs_t.c.job_id == job_id)).scalar_one_or_none()
            if state is None:
                return None
            blobs = conn.execute(sa.select(rows_t.c.result).where(rows_t.c.job_id == job_id,
                                                                   rows_t.c.done_seq > skip)
                                 .order_by(rows_t.c.done_seq).limit(limit)).scalars().all()
        return [ingest_pb2.WatchJobResponse.FromString(b) for b in blobs], state

    # ---- finalising -------------------------------------------------------------------------------------

    def claim_finalize(self, owner: str) -> Finalising | None:
        """Takes a job not ended whose rows all have an outcome (a cancelled job: whose rows still running
        have lost their lease, and whose rows not run have their record), and whose finaliser is none or dead;
        returns its processed videos. None when there is none, or when the job found had rows whose owner died:
        they are made NOT_RUN, and the job is finalised once their records are written."""
        now, lease = self.clock(), new_lease(owner)
        with self.engine.begin() as conn:
            job_id = conn.execute(
                sa.select(jobs_t.c.job_id)
                .where(jobs_t.c.state.in_([QUEUED, RUNNING]), ~_unfinished(now),
                       sa.or_(jobs_t.c.finalizer.is_(None), jobs_t.c.finalizer_expires_s < now))
                .order_by(jobs_t.c.created_s).limit(1).with_for_update(skip_locked=True, of=jobs_t)
            ).scalar_one_or_none()
            if job_id is None:
                return None
            # A cancelled job's rows whose owner died are not run again: recorded not processed (claim_not_run),
            # and the job finalised once they are.
            if conn.execute(rows_t.update().where(rows_t.c.job_id == job_id, rows_t.c.state == TAKEN)
                            .values(state=NOT_RUN, lease_owner=None, lease_expires_s=0.0)).rowcount:
                return None
            conn.execute(jobs_t.update().where(jobs_t.c.job_id == job_id)
                         .values(finalizer=lease, finalizer_expires_s=self._lease_end(),
                                 finalising_since_s=sa.func.coalesce(jobs_t.c.finalising_since_s, now)))
            ids = conn.execute(sa.select(rows_t.c.processed_video_id).where(
                rows_t.c.job_id == job_id, rows_t.c.processed_video_id != "").order_by(rows_t.c.done_seq)
            ).scalars().all()
        return Finalising(job_id, list(dict.fromkeys(ids)), lease)

    def finalising(self) -> list[str]:
        """The jobs not ended whose rows all have an outcome (those claim_finalize takes, its lease held or
        not), oldest first: each is being finalised, or waits for a finaliser (influencers_job_finalising_seconds
        times them)."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(jobs_t.c.job_id).where(
                jobs_t.c.state.in_([QUEUED, RUNNING]), ~_unfinished(self.clock())).order_by(jobs_t.c.created_s)
            ).scalars().all())

    def finalising_age(self) -> float:
        """Seconds the longest-waiting job of `finalising()` has been so, 0 when none: from the time stored with
        the job when a finaliser took it or a reading first found it so (stamped here), so that every replica
        answers alike, a restarted one included (influencers_job_finalising_seconds)."""
        now = self.clock()
        with self.engine.begin() as conn:
            since = conn.execute(sa.select(jobs_t.c.job_id, jobs_t.c.finalising_since_s).where(
                jobs_t.c.state.in_([QUEUED, RUNNING]), ~_unfinished(now))).all()
            unstamped = [job_id for job_id, at in since if at is None]
            if unstamped:  # once per job: later readings find its time
                conn.execute(jobs_t.update().where(jobs_t.c.job_id.in_(unstamped),
                                                   jobs_t.c.finalising_since_s.is_(None))
                             .values(finalising_since_s=now))
        # A time stamped by a replica whose clock is ahead counts from now.
        return max((max(0.0, now - at) for _, at in since if at is not None), default=0.0)

    def end_job(self, job_id: str, lease: str, changed_videos: int = 0, error: str = "") -> bool:
        """Ends a job finalised under `lease` (Finalising.lease): FAILED with `error`, else CANCELLED when a
        cancel left rows unrun, else SUCCEEDED. False when that lease no longer holds its finalisation."""
        with self.engine.begin() as conn:
            job = conn.execute(sa.select(jobs_t.c.done, jobs_t.c.total, jobs_t.c.cancel_requested).where(
                jobs_t.c.job_id == job_id, jobs_t.c.finalizer == lease,
                jobs_t.c.state.in_([QUEUED, RUNNING])).with_for_update()).first()
            if job is None:
                return False
            state = FAILED if error else CANCELLED if job.cancel_requested and job.done < job.total else SUCCEEDED
            conn.execute(jobs_t.update().where(jobs_t.c.job_id == job_id).values(
                state=state, ended_s=_ended(self.clock()), error=error, changed_videos=changed_videos, finalizer=None))
            forgot = _forget_secrets(conn, job_id, [PENDING, TAKEN, DROPPED])  # a cancelled job's rows never run now
        if forgot:
            self.log_scrubber.removed()
        self.log_scrubber.flush()  # its rows' secrets hidden since the last emptying: none left in the log
        return True

    # ---- reading ----------------------------------------------------------------------------------------

    def _job(self, conn: sa.Connection, job_id: str) -> ingest_pb2.Job | None:
        j = conn.execute(sa.select(jobs_t).where(jobs_t.c.job_id == job_id)).first()
        if j is None:
            return None
        statuses = dict(conn.execute(sa.select(rows_t.c.status, sa.func.count()).where(
            rows_t.c.job_id == job_id, rows_t.c.done_seq.is_not(None)).group_by(rows_t.c.status)).all())
        return ingest_pb2.Job(job_id=j.job_id, state=j.state, done=j.done, total=j.total, statuses=statuses,
                              error=j.error, create_time=timestamp(j.created_s), start_time=timestamp(j.started_s),
                              end_time=timestamp(j.ended_s),
                              cancel_requested=bool(j.cancel_requested), changed_videos=j.changed_videos)


def _kept(progress: ingest_pb2.WatchJobResponse, done: int, total: int) -> ingest_pb2.WatchJobResponse:
    """A copy of `progress` as stored: its place (`done` of `total`), no crop bytes, and no influencer ids (an
    erased person's id must not outlive them in the job store; ids are identity's and analytics' to tell)."""
    kept = ingest_pb2.WatchJobResponse()
    kept.CopyFrom(progress)
    for appearance in kept.appearances:
        appearance.ClearField("best_face")
        appearance.ClearField("influencer_id")
    kept.done, kept.total = done, total
    return kept


def _not_before(now: float, *earlier: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    """`now`, or the latest of the `earlier` columns when one is later (SQL's CASE: SQLite and PostgreSQL
    alike), so that a time written from a clock behind another replica's never precedes what it follows."""
    value: sa.ColumnElement[float] = sa.literal(now, sa.Float)
    for column in earlier:
        value = sa.case((column > value, column), else_=value)
    return value


def _ended(now: float) -> sa.ColumnElement[float]:
    """A job's end time: `now`, never before its start or creation."""
    return _not_before(now, jobs_t.c.created_s, jobs_t.c.started_s)


def _unfinished(now: float) -> sa.ColumnElement[bool]:
    """Whether a job (jobs_t's row in the statement) has a row without its outcome: pending, running (a cancelled
    job's only under a lease not expired: a dead owner's row is not run again), or kept from running by a cancel
    and its "not processed" record not yet written (a report exported as the job ends lists it). One EXISTS a
    row state, each an index look-up (ingest_rows_by_state): with both states in one, the job's every row was
    read at each worker step (13 ms near the end of a 100,000-row job)."""
    pending = sa.select(rows_t.c.idx).where(rows_t.c.job_id == jobs_t.c.job_id, rows_t.c.state == PENDING).exists()
    running = sa.select(rows_t.c.idx).where(
        rows_t.c.job_id == jobs_t.c.job_id, rows_t.c.state == TAKEN,
        sa.or_(jobs_t.c.cancel_requested == sa.false(), rows_t.c.lease_expires_s >= now)).exists()
    not_recorded = sa.select(rows_t.c.idx).where(rows_t.c.job_id == jobs_t.c.job_id, rows_t.c.state == NOT_RUN).exists()
    return sa.or_(pending, running, not_recorded)


def _still_open(conn: sa.Connection, job_id: str) -> bool:
    """Locks the job's row (FOR UPDATE; waits for a cancel holding it) and says whether its rows may still be
    claimed: not cancelled, not ended, as read once the lock is held."""
    return conn.execute(sa.select(jobs_t.c.job_id).where(
        jobs_t.c.job_id == job_id, jobs_t.c.cancel_requested == sa.false(), jobs_t.c.state.in_([QUEUED, RUNNING]))
        .with_for_update()).first() is not None


def _first_claimable(conn: sa.Connection, job_id: str, now: float) -> sa.Row | None:
    """The job's first row that is pending or whose lease expired before `now` (locked, skipping rows another
    transaction holds). One indexed look-up a state (ingest_rows_by_state: state, job_id, idx): a single query
    for both sorted every claimable row of the job, 100 ms a claim with 100,000 rows pending."""
    found = []
    for claimable in (rows_t.c.state == PENDING, sa.and_(rows_t.c.state == TAKEN, rows_t.c.lease_expires_s < now)):
        row = conn.execute(sa.select(rows_t.c.idx, rows_t.c.submission, rows_t.c.attempts, rows_t.c.video_id)
                           .where(rows_t.c.job_id == job_id, claimable)
                           .order_by(rows_t.c.state, rows_t.c.job_id, rows_t.c.idx).limit(1)  # the index's order
                           .with_for_update(skip_locked=True)).first()
        if row is not None:
            found.append(row)
    return min(found, key=lambda r: r.idx, default=None)


def _forget_secrets(conn: sa.Connection, job_id: str, states: list[int]) -> int:
    """The submissions of the job's rows in `states`, rows that will not run again, kept without their URLs'
    secrets (submission_without_secrets); only the rows whose URL holds one are written. Returns how many."""
    found = conn.execute(sa.select(rows_t.c.idx, rows_t.c.submission).where(
        rows_t.c.job_id == job_id, rows_t.c.state.in_(states))).all()
    written = 0
    for idx, blob in found:
        sub = ingest_pb2.VideoSubmission.FromString(blob)
        if _has_secrets(sub):
            conn.execute(rows_t.update().where(rows_t.c.job_id == job_id, rows_t.c.idx == idx)
                         .values(submission=submission_without_secrets(sub).SerializeToString()))
            written += 1
    return written


def _has_secrets(sub: ingest_pb2.VideoSubmission) -> bool:
    return secrets_hidden(sub.url) != sub.url


def submission_without_secrets(sub: ingest_pb2.VideoSubmission) -> ingest_pb2.VideoSubmission:
    """A copy of `sub` as a row that will not be fetched (again) keeps it: its URL's signature, token or key
    hidden (url_secrets.secrets_hidden). The URL as given is kept only while the row may still run."""
    kept = ingest_pb2.VideoSubmission()
    kept.CopyFrom(sub)
    kept.url = secrets_hidden(sub.url)
    return kept


def result_without_secrets(progress: ingest_pb2.WatchJobResponse) -> ingest_pb2.WatchJobResponse:
    """A copy of a row's stored result with no secret of its link: its url hidden (secrets_hidden), its location
    keyed as analytics keys it (location_key: secrets digested) and the links its error names hidden
    (links_hidden), as results are written today; results written before the masking kept them as given."""
    kept = ingest_pb2.WatchJobResponse()
    kept.CopyFrom(progress)
    if not progress.HasField("video"):
        return kept
    url = progress.video.url  # a link given without its scheme is keyed as a path: its secrets were in both
    kept.video.url = secrets_hidden(url)
    kept.video.location = location_key(path_link_keyed(path_userinfo_hidden(progress.video.location, url), url))
    kept.video.error = links_hidden(path_userinfo_hidden(progress.video.error, url))
    return kept
