"""The ingest job queue: submitted catalogues run one at a time, in order, on one background thread
(repair and reconcile look across videos, so two batches of one worker never overlap).

Jobs live in this process's memory only: a restart forgets them (what they recorded stays recorded, and
an interrupted batch is repaired by the next job). Ended jobs are kept, the newest `keep` (20) of them, so
a caller can still read how a job ended; each keeps its progress messages (a few hundred bytes a video:
no crop bytes) for replays.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from influencers.v1 import common_pb2, ingest_pb2
from services.common.protoconv import timestamp

log = logging.getLogger(__name__)

QUEUED, RUNNING = ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING
SUCCEEDED, FAILED = ingest_pb2.JOB_STATE_SUCCEEDED, ingest_pb2.JOB_STATE_FAILED
CANCELLED = ingest_pb2.JOB_STATE_CANCELLED
ENDED = frozenset({SUCCEEDED, FAILED, CANCELLED})
WATCH_POLL_S = 0.5  # how often a watcher with nothing new checks that its caller is still there


def status_word(status: int) -> str:
    """`VIDEO_STATUS_DONE` -> "done"."""
    return common_pb2.VideoStatus.Name(status).removeprefix("VIDEO_STATUS_").lower()  # type: ignore[arg-type]


@dataclass
class Job:
    """One submitted catalogue. Fields change under the queue's lock only; read them through the queue."""

    job_id: str
    request: ingest_pb2.StartIngestRequest | None  # dropped once the job has run (memory)
    total: int
    created_s: float
    state: int = QUEUED
    started_s: float = 0.0
    ended_s: float = 0.0
    error: str = ""
    changed_videos: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: list[ingest_pb2.WatchJobResponse] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def to_proto(self) -> ingest_pb2.Job:
        return ingest_pb2.Job(
            job_id=self.job_id, state=self.state, done=len(self.progress), total=self.total,  # type: ignore[arg-type]
            statuses=dict(self.statuses), error=self.error, create_time=timestamp(self.created_s),
            start_time=timestamp(self.started_s), end_time=timestamp(self.ended_s),
            cancel_requested=self.cancel.is_set(), changed_videos=self.changed_videos)


class JobRun:
    """What a running job's body sees: its request, whether it was cancelled, and where progress goes."""

    def __init__(self, queue: JobQueue, job: Job, request: ingest_pb2.StartIngestRequest) -> None:
        self._queue = queue
        self._job = job
        self.request = request

    @property
    def cancelled(self) -> bool:
        return self._job.cancel.is_set()

    def publish(self, progress: ingest_pb2.WatchJobResponse) -> None:
        """Adds one video's progress (its `done` and `total` are filled in here; crop bytes are dropped)."""
        self._queue._publish(self._job, progress)

    def set_changed_videos(self, n: int) -> None:
        self._job.changed_videos = n


# A job's body: runs the batch, publishing one progress message a video, until done or cancelled. An
# exception fails the job with its message.
Runner = Callable[[JobRun], None]


class JobQueue:
    """Queues jobs and runs them one at a time with `runner` on a background thread."""

    def __init__(self, runner: Runner, keep: int = 20) -> None:
        self._runner = runner
        self._keep = keep
        self._changed = threading.Condition()
        self._jobs: dict[str, Job] = {}  # every known job, in the order started (dicts keep insertion order)
        self._queued: deque[Job] = deque()
        self._ended: deque[str] = deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
        self._thread.start()

    def start(self, request: ingest_pb2.StartIngestRequest) -> ingest_pb2.Job:
        """Queues a job for `request`; returns it at once (state QUEUED)."""
        job = Job(uuid.uuid4().hex[:16], request, len(request.videos), time.time())
        with self._changed:
            if self._stopping:
                raise RuntimeError("the ingest service is stopping")
            self._jobs[job.job_id] = job
            self._queued.append(job)
            self._changed.notify_all()
            return job.to_proto()

    def get(self, job_id: str) -> ingest_pb2.Job | None:
        with self._changed:
            job = self._jobs.get(job_id)
            return job.to_proto() if job else None

    def list(self) -> list[ingest_pb2.Job]:
        """Ended (newest `keep`), running and queued jobs, in the order they were started."""
        with self._changed:
            return [job.to_proto() for job in self._jobs.values()]

    def cancel(self, job_id: str) -> ingest_pb2.Job | None:
        """A queued job ends CANCELLED at once; a running one starts no more videos; an ended one stays."""
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state not in ENDED:
                job.cancel.set()
            if job.state == QUEUED:
                self._queued.remove(job)
                self._end(job, CANCELLED)
            return job.to_proto()

    def watch(self, job_id: str, skip: int = 0, caller_active: Callable[[], bool] = lambda: True
              ) -> Iterator[ingest_pb2.WatchJobResponse] | None:
        """The job's progress messages from index `skip` on, then each new one, until the job ends (or
        the caller goes away, or the queue stops). None for an unknown job."""
        with self._changed:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        return self._follow(job, max(0, skip), caller_active)

    def _follow(self, job: Job, sent: int, caller_active: Callable[[], bool]) -> Iterator[ingest_pb2.WatchJobResponse]:
        while True:
            with self._changed:
                while len(job.progress) <= sent and job.state not in ENDED and not self._stopping:
                    if not caller_active():
                        return
                    self._changed.wait(WATCH_POLL_S)
                fresh = job.progress[sent:]
                over = job.state in ENDED or self._stopping
            yield from fresh
            sent += len(fresh)
            if over and not fresh:
                return

    def stop(self, timeout_s: float = 60.0) -> None:
        """Cancels every job: queued ones end at once, the running one finishes its videos in flight and
        reconciles, for up to `timeout_s` seconds (after that its batch stays open for the next repair)."""
        with self._changed:
            self._stopping = True
            while self._queued:
                job = self._queued.popleft()
                job.cancel.set()
                self._end(job, CANCELLED)
            for job in self._jobs.values():
                if job.state not in ENDED:
                    job.cancel.set()
            self._changed.notify_all()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("an ingest job was still running after %.0f s; its batch is repaired on the next run",
                        timeout_s)

    # ---- the worker thread ----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._queued and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                job = self._queued.popleft()
                request, job.request = job.request, None
                job.state, job.started_s = RUNNING, time.time()
                self._changed.notify_all()
            assert request is not None
            state, error = SUCCEEDED, ""
            try:
                self._runner(JobRun(self, job, request))
            except Exception as exc:  # noqa: BLE001 - recorded against the job it belongs to, and logged
                log.exception("ingest job %s failed", job.job_id)
                state, error = FAILED, f"{type(exc).__name__}: {exc}"
            with self._changed:
                if state == SUCCEEDED and job.cancel.is_set() and len(job.progress) < job.total:
                    state = CANCELLED
                job.error = error
                self._end(job, state)

    def _publish(self, job: Job, progress: ingest_pb2.WatchJobResponse) -> None:
        kept = ingest_pb2.WatchJobResponse()
        kept.CopyFrom(progress)
        for appearance in kept.appearances:
            appearance.ClearField("best_face")
        with self._changed:
            job.progress.append(kept)
            kept.done, kept.total = len(job.progress), job.total
            job.statuses[status_word(kept.video.status)] += 1
            self._changed.notify_all()

    def _end(self, job: Job, state: int) -> None:
        """Under the lock: marks `job` ended and forgets the oldest ended jobs beyond `keep`."""
        job.state, job.ended_s, job.request = state, time.time(), None
        self._ended.append(job.job_id)
        while len(self._ended) > self._keep:
            self._jobs.pop(self._ended.popleft(), None)
        self._changed.notify_all()
