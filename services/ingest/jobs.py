"""The ingest job queue of one replica: submitted catalogues are stored (`job_store.JobStore`, SQL shared by
every replica), and this replica's worker threads take rows of any job under a lease, run them with the
`RowRunner`, and finalise the jobs whose rows all have an outcome (reconcile, then end).

A replica opens its batch (services/ingest/batch.py, under its worker name) when it starts taking rows and
closes it when no job is left to run or finalise anywhere; a job ends only after its reconcile. A heartbeat
renews this replica's leases every third of the lease; a replica that dies stops renewing, and its rows and
finalisations are taken over by another replica once their leases expire.

Nothing is kept in this process's memory that a restart would lose: GetJob, WatchJob, CancelJob and ListJobs
read the database, so they answer the same from every replica.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import grpc
from opentelemetry.trace import Span, Status, StatusCode

from influencers.v1 import common_pb2, ingest_pb2
from services.common import logs, tracing
from services.common.boundary import error_reason
from services.common.call_names import failed_call
from services.common.damage import DISK_FULL, DiskFull, engine_error, is_disk_full
from services.common.database import database_unreachable
from services.common.doorbell import Doorbell
from services.common.memory import give_back_free_memory
from services.common.metrics import count_video
from services.common.protoconv import seconds_by_key, status_word
from services.common.streak import FailureStreak
from services.common.url_secrets import secrets_hidden
from services.ingest.fetch import FetchError, file_url_path, local_path, shown_url
from services.ingest.job_store import (
    CANCELLED,
    ENDED,
    FAILED,
    KEY_HELD,
    QUEUED,
    RESUMED,
    RUNNING,
    SUCCEEDED,
    Claim,
    Finalising,
    JobStore,
    QueueFull,
)
from services.ingest.netguard import has_scheme
from services.ingest.pipeline import NOT_RECORDED
from services.ingest.request_ids import request_digest

__all__ = ["CANCELLED", "ENDED", "FAILED", "QUEUED", "RUNNING", "SUCCEEDED", "JobQueue", "QueueFull", "RowRunner",
           "prepared", "settled_rows", "with_failures_kept_apart", "with_missing_urls_named", "with_repeats"]

log = logging.getLogger(__name__)

# How often a watcher reads the database for new results (no lock held in between), and an idle worker thread looks
# for a row to take, when nothing of this process says so sooner: its own submissions, cancels and steps ring a
# doorbell that wakes them at once, so these polls are for other replicas' work (a job submitted there, rows run
# there, a lease run out). They were 0.3 s and 0.5 s, woken by nothing.
WATCH_POLL_S = 1.0
IDLE_POLL_S = 2.0
# Pauses between tries of a job's reconcile while identity or analytics is unreachable: 30 s in all.
RECONCILE_RETRIES_S = (1.0, 2.0, 4.0, 8.0, 15.0)
# Progress messages a watcher reads from the database at once: a watcher of a 200k-row job held every message
# (380 MB); now it holds this many (~1 MB), and reads the next ones as the client takes them.
WATCH_READ_ROWS = 500
# Attempts at one row that ended without a result (the process running it died, or was stopped before the row
# finished) before the row is failed instead of run again: a video that kills the process that decodes it
# would otherwise take down every replica, and every restart of `influencers run`, for good. A service that is
# unreachable costs no attempt (the row is given back, not left to its lease).
DEAD_ATTEMPTS = 5
# Pauses of a worker whose steps keep failing (a service or the database unreachable) double from the first to
# the last: a row meeting identity down is fetched again at each try (a remote video's download is kept for it).
RETRY_PAUSES_S = (1.0, 30.0)
LEASE_BEATS_BETWEEN_LINES = 20  # failed lease renewals between two log lines (a beat every lease_s / 3)
# Failed steps in a row on a full disk (a second apart) before the queue says every job is stalled.
STALLED_AFTER = 2
# While a worker pauses after meeting a full disk it can look at (`room`: its data dir's, identity's): how often it
# looks at the disks' free space (a statvfs, identity's GetRoom), so that the job goes on within this of space being
# freed, not after the pause.
ROOM_PROBE_S = 1.0
# The error each row a user's cancel kept from starting is recorded with (after its URL): listed in videos.csv,
# failed, and run again by the same manifest.
NOT_RUN_CANCELLED = "not processed: its job was cancelled"


def retry_pause(failures: int, idle_poll_s: float = 0.0, pauses_s: tuple[float, float] = RETRY_PAUSES_S) -> float:
    """Seconds to wait after the `failures`-th failed step in a row: 1, 2, 4, ... up to 30 (`pauses_s`: the first
    and the last)."""
    first, last = pauses_s
    return max(idle_poll_s, min(last, first * 2 ** min(max(failures - 1, 0), 16)))


def given_up(attempts: int) -> str:
    """The row error of a row taken for the `attempts`-th time, or "" while it may still run."""
    if attempts <= DEAD_ATTEMPTS:
        return ""
    return (f"given up after {attempts - 1} attempts that each ended without a result (the process running it "
            f"died or was stopped while it ran: a video that crashes the decoder?); submit the row again to retry")


class RowRunner(Protocol):
    """What runs rows and reconciles jobs: the pipeline and the batch protocol in production, fakes in tests."""

    def open_batch(self) -> None: ...

    def close_batch(self) -> None: ...

    def run_row(self, claim: Claim, note_video: Callable[[str], None]) -> tuple[ingest_pb2.WatchJobResponse, str]:
        """Runs one row; returns its progress message and the id of the video it processed ("" if none).
        `note_video(video_id)` is called before the video is analysed. Never raises for the row's own
        failure (that is its outcome)."""

    def reconcile(self, video_ids: list[str]) -> int:
        """Reconciles a job's processed videos; returns the videos whose people changed."""


@contextlib.contextmanager
def _row_scope(claim: Claim) -> Iterator[Span]:
    """The root span "video" of a row, current inside, with the row's job and number bound for the log lines
    (and sent along as baggage while tracing is on)."""
    row = claim.idx + 1
    attributes = {"influencers.job_id": claim.job_id, "influencers.row": row, "influencers.attempt": claim.attempts}
    with logs.row_context(claim.job_id, row), tracing.row_baggage(claim.job_id, row), \
            tracing.tracer("ingest").start_as_current_span("video", attributes=attributes) as span:
        yield span


def prepared(request: ingest_pb2.StartIngestRequest) -> ingest_pb2.StartIngestRequest:
    """`request` as a job runs it: its rows' repeats counted (with_repeats), the failures that share a file
    with another row kept apart (with_failures_kept_apart), the rows without URL told why they fail
    (with_missing_urls_named). settled_rows takes such a request."""
    return with_missing_urls_named(with_failures_kept_apart(with_repeats(request)))


def settled_rows(request: ingest_pb2.StartIngestRequest) -> dict[int, ingest_pb2.WatchJobResponse]:
    """The rows of a prepared request whose outcome is known without running them, by index: a second row
    with a URL already given (reported here; the first row carries the count to analytics, see with_repeats).
    A row that fails is not settled: it runs, told why it fails (its row error), and is recorded, so that
    videos.csv lists it: at the file it names, or, kept apart (with_failures_kept_apart) or without URL, under
    its manifest row (services/common/row_keys.py)."""
    settled: dict[int, ingest_pb2.WatchJobResponse] = {}
    repeated = _repeated_rows(request)
    for k, sub in enumerate(request.videos):
        if sub.url and not sub.row_error and k in repeated:
            first = repeated[k]
            video = common_pb2.Video(url=secrets_hidden(sub.url), status=common_pb2.VIDEO_STATUS_DUPLICATE,
                                     error=f"same {_same(request, k, first)} as {row_label(request, first)}")
            settled[k] = ingest_pb2.WatchJobResponse(video=video)
    return settled


def with_failures_kept_apart(request: ingest_pb2.StartIngestRequest) -> ingest_pb2.StartIngestRequest:
    """A copy of `request` in which every failing row that names a URL or file another row of the submission
    gives is kept apart (VideoSubmission.kept_apart; a client's value is replaced): a broken row (its row
    error) beside a good row of that file, or after an earlier broken one, and a row that gives a URL again
    with another score (failed: which score the user meant is unknown, the first one counts, and this row says
    so). Such a row is recorded under its own manifest row, never at the file, whose record belongs to the
    first good row (else the first row): videos.csv lists each row once, and no row undoes another's result."""
    out = ingest_pb2.StartIngestRequest()
    out.CopyFrom(request)
    keys = _row_keys(request)
    repeated = _repeated_rows(request)
    conflicting = _conflicting_rows(request, repeated)
    holder: dict[str, int] = {}  # the row recorded at each file: its first good row, else its first row
    for good_only in (True, False):
        for k, sub in enumerate(request.videos):
            if sub.url and (not good_only or not sub.row_error):
                holder.setdefault(keys[k], k)
    for k, sub in enumerate(out.videos):
        sub.kept_apart = bool(sub.url) and (k in conflicting or (bool(sub.row_error) and holder[keys[k]] != k))
        if k in conflicting:
            first = repeated[k]
            sub.row_error = (
                f"{row_label(request, k)}: performance {_score(sub)} differs from the {_score(request.videos[first])} "
                f"of {row_label(request, first)}, which gives the same {_same(request, k, first)}: "
                f"{row_label(request, first)}'s is kept; correct or remove one of the rows")
    return out


def with_missing_urls_named(request: ingest_pb2.StartIngestRequest) -> ingest_pb2.StartIngestRequest:
    """A copy of `request` whose rows without a URL carry why they fail as their row error, naming the row
    ("line 4: video URL is missing"; a row error given already is kept)."""
    out = ingest_pb2.StartIngestRequest()
    out.CopyFrom(request)
    for k, sub in enumerate(out.videos):
        if not sub.url and not sub.row_error:
            sub.row_error = f"{row_label(out, k)}: video URL is missing"
    return out


def _score(sub: ingest_pb2.VideoSubmission) -> str:
    """A row's score as a message shows it: the shortest text that reads back as it (two scores that differ
    never look alike), without a trailing `.0`."""
    return repr(sub.performance).removesuffix(".0") if sub.HasField("performance") else "(none)"


def _conflicting_rows(request: ingest_pb2.StartIngestRequest, repeated: dict[int, int]) -> set[int]:
    """The `repeated` rows (see _repeated_rows) whose score is not the one of the row they repeat."""
    videos = request.videos
    return {k for k, first in repeated.items() if _score(videos[k]) != _score(videos[first])}


def row_label(request: ingest_pb2.StartIngestRequest, index: int) -> str:
    """How messages name row `index` of `request`: by its line in the caller's file when the caller gave it
    ("line 3"), else by its place in the submission ("row 2 of this submission")."""
    line = request.videos[index].line
    return f"line {line}" if line > 0 else f"row {index + 1} of this submission"


def with_repeats(request: ingest_pb2.StartIngestRequest) -> ingest_pb2.StartIngestRequest:
    """A copy of `request` whose rows carry `repeats`: how many later rows give their URL again (settled as
    duplicates by settled_rows); a client's value is replaced. The row records it in analytics, whose report
    lists that many duplicates after it: 205 manifest rows give 205 rows in videos.csv."""
    out = ingest_pb2.StartIngestRequest()
    out.CopyFrom(request)
    counts: dict[int, int] = {}
    repeated = _repeated_rows(request)
    conflicting = _conflicting_rows(request, repeated)
    for k, first in repeated.items():
        if k not in conflicting:
            counts[first] = counts.get(first, 0) + 1
    for k, sub in enumerate(out.videos):
        sub.repeats = counts.get(k, 0)
    return out


def _repeated_rows(request: ingest_pb2.StartIngestRequest) -> dict[int, int]:
    """Rows (index) without a row error whose URL, or local file (_row_key), an earlier row already gave, to
    that earlier row's index."""
    repeated: dict[int, int] = {}
    first_line: dict[str, int] = {}
    keys = _row_keys(request)
    valid = {key for key, sub in zip(keys, request.videos, strict=True) if not sub.row_error}
    for k, sub in enumerate(request.videos):
        if sub.row_error and keys[k] in valid:
            continue
        if sub.url and keys[k] in first_line and not sub.row_error:
            repeated[k] = first_line[keys[k]]
        else:
            first_line.setdefault(keys[k], k)
    return repeated


def _same(request: ingest_pb2.StartIngestRequest, k: int, first: int) -> str:
    """What row `k` shares with row `first`: its "URL" as written, or the "file" another spelling names."""
    return "URL" if request.videos[k].url == request.videos[first].url else "file"


def _row_keys(request: ingest_pb2.StartIngestRequest) -> list[str]:
    """Each row's _row_key against the request's base folder."""
    return [_row_key(sub.url, request.base_dir) for sub in request.videos]


def _row_key(url: str, base_dir: str) -> str:
    """What a row names, so that rows naming the same thing are found: an http(s) URL (or any other scheme) as
    given; a local file that exists by its device and inode (a symlink to it, `a/../b.mp4` or a hard link
    names the same file; one stat a row); any other local path or `file:` URL as a path from `base_dir` with
    its `.` segments and doubled slashes dropped (`./a.mp4`, `a//b.mp4`, `file:///m/a.mp4`), `..` kept: it may
    cross a symlink, and only the pipeline, resolving it, knows where it leads."""
    scheme = has_scheme(url)
    path: str | None = url
    if scheme == "file":
        path = file_url_path(url)  # as fetch() reads it
    elif scheme is not None:
        return url
    if not path or "\0" in path or path.startswith("~"):
        return url
    if not path.startswith("/") and base_dir:
        path = f"{base_dir.rstrip('/')}/{path}"
    if found := _regular_file(path) or _found_as_spelled_otherwise(url, base_dir, path):
        return f"file {found.st_dev}:{found.st_ino}"
    segments = [s for s in path.split("/") if s not in ("", ".")]
    return "/" * path.startswith("/") + "/".join(segments) + "/" * path.endswith("/")


def _regular_file(path: str) -> os.stat_result | None:
    """The file `path` names as fetch() reads it (symlinks followed; a relative path from this process's
    folder), or None. fetch resolves the path before opening it, so `a/missing/../b.mp4` names a/b.mp4."""
    for candidate in (path, os.path.realpath(path) if "/../" in f"/{path}/" else None):
        try:
            found = os.stat(candidate) if candidate else None
        except (OSError, ValueError):
            continue
        if found is not None and stat.S_ISREG(found.st_mode):
            return found
    return None


def _found_as_spelled_otherwise(url: str, base_dir: str, path: str) -> os.stat_result | None:
    """The file fetch() finds for `url` under another spelling of `path` (its names in the other Unicode form, a
    Windows path's backslashes as separators: fetch.local_path), or None. Looked for only when `path` has such a
    spelling, so that a row of a missing ASCII path still costs one stat."""
    if path.isascii() and "\\" not in path:
        return None
    try:
        return _regular_file(str(local_path(url, Path(base_dir or "."))))
    except FetchError:
        return None


class JobQueue:
    """Stores jobs and runs rows of any job on `threads` worker threads, as lease owner `owner`."""

    def __init__(self, store: JobStore, runner: RowRunner, owner: str, threads: int = 1,
                 idle_poll_s: float = IDLE_POLL_S, watch_poll_s: float = WATCH_POLL_S,
                 reconcile_retries_s: tuple[float, ...] = RECONCILE_RETRIES_S,
                 room: Callable[[], bool] | None = None, retry_pauses_s: tuple[float, float] = RETRY_PAUSES_S) -> None:
        """`room`: whether the disks rows write to that this replica can look at (its data dir's, identity's:
        services/ingest/room.py) have the room the stores keep free (None: not watched); a full disk met while they
        have none is watched, and a stall ends as soon as there is room.
        `retry_pauses_s`: the first and the longest pause of a worker whose steps keep failing (retry_pause)."""
        self.store = store
        self._room = room
        self._retry_pauses_s = retry_pauses_s
        # The last full disk a step met is one `room` sees (it said no then): its free space is watched.
        self._full_here = False
        self._wake = threading.Event()  # set once that disk has room again: the workers' pauses end
        self._reconcile_retries_s = reconcile_retries_s
        self._runner = runner
        self.owner = owner
        self._idle_poll_s = idle_poll_s
        self._watch_poll_s = watch_poll_s
        self._stopping = threading.Event()
        self._rows = Doorbell()  # rung when this process makes work for the worker threads (a job, a cancel)
        self._progress = Doorbell()  # rung when a worker thread's step stored something a watcher may send
        self._batch_lock = threading.Lock()
        self._batch_open = False
        self._busy = 0  # worker threads running a row or a finalisation (under _batch_lock)
        # Rows whose run raised and that could not be given back then (the database down): given back first
        # thing at the next step, before this replica's heartbeat would keep them taken for good.
        self._unreleased: list[Claim] = []
        self._taken = threading.local()  # each worker thread's row in hand (`claim`): a failed step's lines name it
        # Why no row moves here now ("disk full: ..."), or "": told with every unended job (Job.stalled), and
        # the watches end, so that a client learns it rather than wait on a silent stream.
        self._stalled = ""
        # A write met the full disk: the leases that ran out meanwhile are resumed before the next claim, which
        # would otherwise take a live row as a dead attempt (JobStore.resume_leases).
        self._resume_leases = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"ingest-jobs-{k}", daemon=True)
                         for k in range(max(1, threads))]
        self._heartbeat = threading.Thread(target=self._beat, name="ingest-leases", daemon=True)
        self._heartbeat.start()
        for t in self._threads:
            t.start()

    def earlier(self, request: ingest_pb2.StartIngestRequest, digest: str = "") -> ingest_pb2.Job | None:
        """The job an earlier call with the key of `request` (request_id, in its stored form) made, or None.
        RequestIdReused when another request made it. `digest`: request_ids.request_digest(request), when the
        caller has it already (hashed otherwise)."""
        job = self.store.earlier(request, digest)
        return None if job is None else self._told(job)

    def unfinished(self, digest: str, request_id: str = "") -> ingest_pb2.Job | None:
        """The oldest job not ended nor cancelled that a request of `digest` made (JobStore.unfinished), resumed by
        the same manifest run again (the request of `request_id`), or None."""
        job = self.store.unfinished(digest)
        return None if job is None else self._resumed(job, request_id)

    def _resumed(self, job: ingest_pb2.Job, request_id: str) -> ingest_pb2.Job:
        log.info("ingest job %s resumed: the same submission again (request_id %s), nothing queued", job.job_id,
                 request_id, extra={"job_id": job.job_id})
        return self._told(job)

    def start(self, request: ingest_pb2.StartIngestRequest, digest: str = "") -> ingest_pb2.Job:
        """Stores a job for `request`; returns it at once (state QUEUED). Raises QueueFull, or RuntimeError
        when this replica is stopping. With a key (request_id, in its stored form) that a job holds, stores
        nothing and returns that job (a call racing another with the key), or raises RequestIdReused. `digest`:
        request_ids.request_digest(request), when the caller has it already (hashed otherwise)."""
        return self.start_or_resume(request, digest)[0]

    def start_or_resume(self, request: ingest_pb2.StartIngestRequest, digest: str = "",
                        resume: bool = False) -> tuple[ingest_pb2.Job, bool]:
        """start, and with `resume` (StartIngestRequest.resume_unfinished) the oldest unfinished job of the same
        rows answered instead, in the store's one transaction (JobStore.enqueued): with whether it was resumed."""
        if self._stopping.is_set():
            raise RuntimeError("the ingest service is stopping")
        if request.request_id and not digest:
            digest = request_digest(request)
        request = prepared(request)
        settled = settled_rows(request)
        job, how = self.store.enqueued(request, settled, digest, resume)
        if how == RESUMED:
            return self._resumed(job, request.request_id), True
        if how == KEY_HELD:  # a call racing another with its key: nothing queued, counted or cleared again
            log.info("ingest job %s: its submission sent again (request_id %s), nothing queued", job.job_id,
                     request.request_id, extra={"job_id": job.job_id})
            return self._told(job), False
        # The job store took a job: there is room again. A stall said before (a full disk) is old news, and told
        # with this job it ended its client's watch at once ("cannot go on") while the workers, in their pause,
        # were about to go on by themselves; they set it again if their next step meets a full disk.
        self._stalled = ""
        words: dict[str, int] = {}
        for progress in settled.values():
            word = status_word(progress.video.status)
            count_video(word)
            words[word] = words.get(word, 0) + 1
        log.info("ingest job %s queued: %d rows%s", job.job_id, len(request.videos),
                 "".join(f", {n} {word} at submission" for word, n in sorted(words.items())),
                 extra={"job_id": job.job_id})
        self._rows.ring()
        return job, False

    def get(self, job_id: str) -> ingest_pb2.Job | None:
        job = self.store.get(job_id)
        return None if job is None else self._told(job)

    def list(self) -> list[ingest_pb2.Job]:
        """The newest ended jobs, then the running and queued ones, in the order they were submitted."""
        return [self._told(job) for job in self.store.list()]

    def cancel(self, job_id: str) -> ingest_pb2.Job | None:
        """Rows not started are not run; rows running finish and the job reconciles; an ended job stays. The rows
        not started are recorded failed, "not processed: its job was cancelled", by the worker threads of any
        replica (one record a step: a large job's cancel answers at once; a replica killed meanwhile leaves the
        rest to the others, or to its next start), so that videos.csv lists every row of the job once and the
        same manifest runs them again (before, they were missing from it until a rerun)."""
        job = self.store.cancel(job_id)
        self._rows.ring()  # its rows not started are to be recorded, and the job finalised
        self._progress.ring()
        return None if job is None else self._told(job)

    def _told(self, job: ingest_pb2.Job) -> ingest_pb2.Job:
        """`job` with this replica's reason that nothing moves (Job.stalled), when it has one and the job
        has not ended. A stall on a disk `room` sees is looked at again first (a statvfs, GetRoom): freed, the job is
        no longer said stalled, and the workers try again at once (was: said stalled until their next try, up to
        30 s later)."""
        stalled = "" if self._room_again() else self._stalled
        if stalled and job.state not in ENDED:
            job.stalled = stalled
        return job

    def watch(self, job_id: str, skip: int = 0, caller_active: Callable[[], bool] = lambda: True
              ) -> Iterator[ingest_pb2.WatchJobResponse] | None:
        """The job's progress messages from index `skip` on, then each new one, until the job ends (or the
        caller goes away, or this replica stops). None for an unknown job."""
        if self.store.get(job_id) is None:
            return None
        return self._follow(job_id, max(0, skip), caller_active)

    def _follow(self, job_id: str, sent: int, caller_active: Callable[[], bool]
                ) -> Iterator[ingest_pb2.WatchJobResponse]:
        while True:
            mark = self._progress.mark()  # before the read: a result stored after it cuts the wait short
            read = self.store.results(job_id, sent, WATCH_READ_ROWS)
            if read is None:
                return
            fresh, state = read
            yield from fresh
            sent += len(fresh)
            if len(fresh) == WATCH_READ_ROWS:
                continue  # more are stored: read on without waiting
            if state in ENDED:
                while (read := self.store.results(job_id, sent, WATCH_READ_ROWS)) and read[0]:
                    yield from read[0]  # results stored just before the end
                    sent += len(read[0])
                return
            if not fresh:
                if self._stalled:
                    return  # stalled: the caller reads why from GetJob (Job.stalled)
                self._progress.wait(mark, self._watch_poll_s)
                if self._stopping.is_set() or not caller_active():
                    return

    def stop(self, timeout_s: float = 60.0) -> None:
        """Takes no more rows; the rows running finish (for up to `timeout_s` seconds). Jobs are not
        cancelled: their other rows wait for any replica (this one after a restart)."""
        self._stopping.set()
        self._rows.ring()
        self._progress.ring()
        for t in self._threads:
            t.join(timeout_s / len(self._threads))
        if any(t.is_alive() for t in self._threads):
            log.warning("ingest rows were still running after %.0f s; their leases expire and another replica "
                        "takes them", timeout_s)
        self._heartbeat.join(1.0)

    # ---- the worker threads -----------------------------------------------------------------------------

    def _work(self) -> None:
        streak = FailureStreak()  # the first failure is logged with its traceback, then a line every 60 tries
        row_failed_at: float | None = None  # when a step last failed on a row it had taken (a service's outage)
        while not self._stopping.is_set():
            try:
                mark = self._rows.mark()  # before the look: a job stored after it cuts the wait short
                worked = self._step()
                if worked:
                    self._progress.ring()
                else:
                    self._maybe_close_batch()
                    self._rows.wait(mark, self._idle_poll_s)
            except Exception as exc:  # noqa: BLE001 - a database or service outage: logged, retried after a pause
                first = streak.failures == 0
                taken: Claim | None = getattr(self._taken, "claim", None)  # the row given back, if one was taken
                row_failed_at = time.monotonic() if taken is not None else None
                row = {"job_id": taken.job_id, "row": taken.idx + 1} if taken is not None else {}
                full = is_disk_full(exc)
                if full:
                    self._resume_leases.set()
                    self._full_here = not self._has_room()
                    if self._full_here:
                        self._wake.clear()
                if streak.failed():
                    # A service's error names its call ("identity.AnalyzeVideo failed: UNAVAILABLE Stream removed").
                    if first and _transient(exc):  # a service restarting: no traceback, the row waits for it
                        log.warning("ingest worker step failed: %s; the row goes back to the queue, retrying",
                                    failed_call(exc), extra=row)
                    elif first and full:  # the job store's disk, or a row's: nothing moves until there is room
                        log.error("ingest worker step failed: %s; %sretrying until there is room",
                                  _disk_full(exc, self.store.where),
                                  "the row goes back to the queue, " if taken is not None else "", extra=row)
                    elif first:
                        log.exception("ingest worker step failed%s; retrying",
                                      f": {failed_call(exc)}" if isinstance(exc, grpc.RpcError) else "", extra=row)
                    else:
                        log.error("ingest worker step still failing (try %d): %s", streak.failures, failed_call(exc),
                                  extra=row)
                if full and streak.failures >= STALLED_AFTER:
                    self._stalled = _disk_full(exc, self.store.where)
                self._pause(retry_pause(streak.failures, pauses_s=self._retry_pauses_s))
                continue
            self._stalled = ""
            if not worked and row_failed_at is not None:
                # Nothing to take proves the job store answers, not that the service the row failed on is back
                # (another thread holds the row, or it waits): the streak, and so the pause, goes on. Idle for
                # longer than the longest pause, the outage is over as far as this thread knows, in silence.
                if time.monotonic() - row_failed_at < 2 * RETRY_PAUSES_S[1]:
                    continue
                streak.succeeded()
                row_failed_at = None
                continue
            row_failed_at = None
            if failures := streak.succeeded():
                log.info("ingest worker steps succeed again after %d failed tries", failures)

    def _pause(self, seconds: float) -> None:
        """Waits `seconds` after a failed step (or until this replica stops); after a full disk `room` sees, only
        until it has room again, its free space looked at every ROOM_PROBE_S (a statvfs or GetRoom, not a step: a
        row tried again is fetched, decoded and analysed again)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self._stopping.is_set():
            if not self._full_here:
                self._stopping.wait(left)
                return
            if self._wake.wait(min(left, ROOM_PROBE_S)) or self._room_again():
                return

    def _room_again(self) -> bool:
        """True once the full disk `room` sees that stalled this replica has room: the stall is over (told no more)
        and the workers' pauses end. A step meeting a full disk again says so again (its streak goes on)."""
        if not self._full_here or not self._has_room():
            return False
        self._full_here = False
        self._stalled = ""
        self._wake.set()
        return True

    def _has_room(self) -> bool:
        """`room()`: True when not watched, or when the look fails (logged): nothing then to wait for but the
        workers' next try."""
        if self._room is None:
            return True
        try:
            return self._room()
        except Exception:  # noqa: BLE001 - a probe of free space must not end the worker thread asking it
            log.exception("looking at the free space of the disks rows write to failed")
            return True

    def _step(self) -> bool:
        """Finalises a job or runs a row; False when there was nothing to take."""
        with self._batch_lock:
            self._busy += 1
        self._taken.claim = None
        try:
            self._release_unreleased()
            if self._resume_leases.is_set():
                self._resume_leases.clear()
                try:
                    self.store.resume_leases()
                except Exception:
                    self._resume_leases.set()
                    raise
            finalising = self.store.claim_finalize(self.owner)
            if finalising is not None:
                self._finalise(finalising)
                return True
            claim = self.store.claim_not_run(self.owner) or self.store.claim_row(self.owner)
            if claim is None:
                return False
            self._taken.claim = claim
            if claim.not_run:
                try:
                    self._record_not_run(claim)
                except Exception:  # analytics unreachable, or the database: the record waits for the next try
                    self._give_back(claim)
                    raise
                self._taken.claim = None
                return True
            try:
                self._ensure_batch_open()  # under the row's lease (the heartbeat renews it while a repair runs)
            except Exception:
                # Identity unreachable, or refusing the open on its full disk: the row goes back to the queue,
                # neither failed nor counted, and runs once identity answers or there is room (the job stalls).
                self._give_back(claim)
                raise
            try:
                self._run(claim)
            except Exception:
                self._give_back(claim)
                raise
            self._taken.claim = None
            return True
        finally:
            with self._batch_lock:
                self._busy -= 1

    def _give_back(self, claim: Claim) -> None:
        """After a run or a record raised (identity or analytics unreachable, or the database): the row is no one's
        again (its next attempt forgets what this one stored), not held under a lease this replica's heartbeat
        renews."""
        with self._batch_lock:
            self._unreleased.append(claim)
        self._release_unreleased()
        self._rows.ring()  # the row waits again: another thread may take it

    def _release_unreleased(self) -> None:
        """Gives back the rows whose run raised; raises (keeping the rest) while the database does not answer."""
        with self._batch_lock:
            pending, self._unreleased = self._unreleased, []
        for k, claim in enumerate(pending):
            try:
                self.store.release(claim)
            except Exception:
                with self._batch_lock:
                    self._unreleased.extend(pending[k:])
                raise

    def _run(self, claim: Claim) -> None:
        """Runs one row as one trace (root span "video") whose log lines carry the job, the row and the video."""
        row = claim.idx + 1
        with _row_scope(claim) as span:
            if claim.attempts > 1:
                log.warning("taking over row %d of job %s (attempt %d: a previous owner's lease expired)",
                            row, claim.job_id, claim.attempts)

            def note_video(video_id: str) -> None:
                logs.bind(video_id=video_id)
                span.set_attribute("influencers.video_id", video_id)
                self.store.note_video(claim, video_id)

            progress, processed = self._runner.run_row(claim, note_video)
            video = progress.video
            if video.video_id:
                span.set_attribute("influencers.video_id", video.video_id)
            span.set_attribute("influencers.status", status_word(video.status))
            if video.status == common_pb2.VIDEO_STATUS_FAILED:  # logged once already, with its reason
                span.set_status(Status(StatusCode.ERROR, video.error))
            else:  # one line per row that has a result, with where its time went (a slow row shows here)
                stages = seconds_by_key(progress.stage_durations)
                log.info("video %s", status_word(video.status), extra={
                    "faces": video.faces, "stage_seconds": {k: round(v, 3) for k, v in stages.items()}})
            give_back_free_memory()  # the video's frames (JPEGs), sent and freed: returned, not kept for the next
            if self.store.finish_row(claim, progress, processed):
                count_video(status_word(video.status))
            else:
                log.warning("row %d of job %s was taken over while it ran; its result here is dropped",
                            row, claim.job_id)
            # Every later row would fail the same way: the batch stops. The reason is read without the URL
            # it starts with, as written or as shown (a file named "disk full.mp4" that fails for another
            # reason stops nothing, nor does one 200 characters down a long path).
            if DISK_FULL in video.error.removeprefix(shown_url(video.url)).removeprefix(video.url):
                log.error("ingest job %s stopped: %s", claim.job_id, video.error)
                reason = video.error
                at = reason.find(DISK_FULL)  # the full disk in its own words, without the URL of the row that met it
                why = f"not processed: its job stopped on a full disk ({reason[at:] if at >= 0 else reason})"
                self.store.stop(claim.job_id, why)  # its rows not started are recorded so (_record_not_run)

    def _record_not_run(self, claim: Claim) -> None:
        """Runs a row that a cancel or a full disk kept from running (a `not_run` claim) told that it was not
        processed (its row error when a stop gave one, else NOT_RUN_CANCELLED), so that the runner records it
        failed saying why, as every failed row is: videos.csv lists every row of the job once (before, such rows
        were missing from it until the manifest ran again). Then the store marks it recorded; a kill in between
        leaves it to the next taker, whose record of the same row lands at the same key. Raises, the row kept for
        the next try, when analytics or the database is unreachable; any other failure is logged and the row left
        out (taken again, it would hold this worker's every step). A record refused on a full disk leaves the
        job's other such rows out, untried (each would meet that disk: two calls and a log line a row); rows left
        out are listed once the manifest runs again."""
        with _row_scope(claim):
            try:
                got, _ = self._runner.run_row(_told_why_it_fails(claim, NOT_RUN_CANCELLED), lambda _video_id: None)
            except Exception as exc:
                if _transient(exc) or database_unreachable(exc):
                    raise
                log.warning("row %d of job %s, not processed, could not be recorded: %s", claim.idx + 1,
                            claim.job_id, failed_call(exc) if isinstance(exc, grpc.RpcError) else _details(exc))
                self.store.not_run_recorded(claim)
                return
        self.store.not_run_recorded(claim)
        refused_on_full_disk = DISK_FULL in got.video.error.partition(NOT_RECORDED)[2]
        if refused_on_full_disk and (rest := self.store.give_up_not_run(claim.job_id)):
            log.warning("%d more row%s of job %s, not processed, are not recorded either: the disk is full; they "
                        "are listed once the manifest runs again", rest, "" if rest == 1 else "s", claim.job_id,
                        extra={"job_id": claim.job_id})

    def _finalise(self, job: Finalising) -> None:
        with logs.bound(job_id=job.job_id):  # its lines (the reconcile's too) carry the job as a field
            self._finalise_job(job)

    def _finalise_job(self, job: Finalising) -> None:
        changed, error = 0, ""
        try:
            if job.processed_video_ids:
                changed = self._reconciled(job)
        except Exception as exc:  # noqa: BLE001 - recorded against the job it belongs to, and logged
            log.exception("reconciling ingest job %s failed", job.job_id)
            # A gRPC error: the call that failed, its status and message, not its repr's five lines.
            error = failed_call(exc) if isinstance(exc, grpc.RpcError) else " ".join(error_reason(exc).split())
        if self.store.end_job(job.job_id, job.lease, changed, error):
            log.info("ingest job %s ended%s", job.job_id, f": {error}" if error else "")
        else:
            log.warning("ingest job %s was not ended here: its finalisation was taken over (lease expired)",
                        job.job_id)

    def _reconciled(self, job: Finalising) -> int:
        """The job's reconcile; tried again after each pause of `reconcile_retries_s` while identity or
        analytics is unreachable (a restart, a rolling update: every video is done, only the reconcile
        waits), then the last error is the job's. The heartbeat renews the finalisation's lease meanwhile."""
        for pause in (*self._reconcile_retries_s, None):
            try:
                return self._runner.reconcile(job.processed_video_ids)
            except Exception as exc:
                if pause is None or not _transient(exc) or self._stopping.is_set():
                    raise
                log.warning("reconciling ingest job %s: %s; trying again in %g s", job.job_id, failed_call(exc), pause)
                self._stopping.wait(pause)
        raise AssertionError("unreachable")

    def _ensure_batch_open(self) -> None:
        with self._batch_lock:
            if not self._batch_open:
                self._runner.open_batch()
                self._batch_open = True

    def _maybe_close_batch(self) -> None:
        """Closes this replica's batch when no thread here is busy and no job anywhere is left to finish
        (a job's rows this replica ran are then reconciled, whoever finalised it)."""
        with self._batch_lock:
            if not self._batch_open or self._busy or self.store.active_jobs():
                return
            self._runner.close_batch()
            self._batch_open = False

    def _beat(self) -> None:
        streak = FailureStreak(LEASE_BEATS_BETWEEN_LINES)
        while not self._stopping.wait(self.store.lease_s / 3):
            self._renew(streak)
        # Stopping: the rows still running keep their leases until they finish (stop() waits for them).
        while any(t.is_alive() for t in self._threads):
            self._renew(streak)
            for t in self._threads:
                t.join(self.store.lease_s / 3)

    def _renew(self, streak: FailureStreak) -> None:
        """Renews this replica's leases; a failure is logged as the worker steps' are (the first with its
        traceback, then a line now and then, then the recovery), not a traceback every beat."""
        try:
            self.store.renew(self.owner)
        except Exception as exc:  # noqa: BLE001 - the next beat tries again; a lease outlives two missed beats
            first = streak.failures == 0
            if is_disk_full(exc):
                self._resume_leases.set()
            if streak.failed():
                if first and is_disk_full(exc):  # no traceback: the disk, not the code
                    log.error("renewing the ingest leases failed: %s: %s; retrying", DISK_FULL, engine_error(exc))
                elif first:
                    log.exception("renewing the ingest leases failed; retrying")
                else:
                    log.error("renewing the ingest leases still failing (try %d): %s", streak.failures, _details(exc))
            return
        if failures := streak.succeeded():
            log.info("renewing the ingest leases succeeds again after %d failed tries", failures)


def _told_why_it_fails(claim: Claim, error: str) -> Claim:
    """`claim` with `error` as its row's error (a row error of its own is kept): the runner fails the row with
    it and records it, as it does every failed row, so that videos.csv lists it (a row failed here, in the job
    alone, was missing from the report until a rerun)."""
    sub = ingest_pb2.VideoSubmission()
    sub.CopyFrom(claim.submission)
    sub.row_error = sub.row_error or error
    return dataclasses.replace(claim, submission=sub)


def _transient(exc: Exception) -> bool:
    """A gRPC error that a later try may not meet: the peer unreachable or out of time."""
    code = getattr(exc, "code", None)
    return callable(code) and code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _disk_full(exc: Exception, store: str) -> str:
    """What a full disk refused, in one line: a service's refusal in its own words (identity's OpenBatch or
    CloseBatch: `disk full: CloseBatch could not write (...)`), else the job store's write. A gRPC error's str()
    is its repr, whose first line was all that was said: `disk full: the ingest job store could not be written
    (<_InactiveRpcError of RPC that terminated with:)`, naming the wrong store. `store`: the job store as said
    (JobStore.where: its file, DATA/ingest/jobs.sqlite3, or its PostgreSQL database)."""
    if isinstance(exc, grpc.RpcError):
        return _details(exc)
    if isinstance(exc, DiskFull):  # a row's service or download met it (VideoPipeline.process), in its own words
        return " ".join(str(exc).split())
    return f"{DISK_FULL}: {store} could not be written ({engine_error(exc)})"


def _details(exc: Exception) -> str:
    """A gRPC error's message (the status's details), or the exception's text, on one line."""
    details = getattr(exc, "details", None)
    text = details() if callable(details) else str(exc)
    return " ".join(str(text).split())
