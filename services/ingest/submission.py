"""One submitted catalogue run as a batch: open it (repairing after an interrupted one), run the videos on
a few worker threads, then reconcile and close. This is the body of an ingest job (`jobs.JobQueue`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from influencers.v1 import common_pb2, ingest_pb2
from services.common.scores import score_problem
from services.ingest import batch
from services.ingest.jobs import JobRun
from services.ingest.pipeline import Outcome, VideoPipeline

log = logging.getLogger(__name__)


def with_scores_checked(request: ingest_pb2.StartIngestRequest) -> ingest_pb2.StartIngestRequest:
    """A copy of `request` in which a row whose score breaks the score rule (services/common/scores.py, the
    one a manifest cell meets) has no score and that as its row error: it fails like a manifest row with
    that cell would (a result already recorded for it is kept), and the other rows go on."""
    checked = ingest_pb2.StartIngestRequest()
    checked.CopyFrom(request)
    for k, sub in enumerate(checked.videos):
        if sub.HasField("performance") and (problem := score_problem(sub.performance)):
            sub.ClearField("performance")
            sub.row_error = sub.row_error or f"row {k + 1}: {problem}"
    return checked


class SubmissionRunner:
    """Runs jobs with `pipeline` on `pool`; `identity` and `analytics` are the batch protocol's ports."""

    def __init__(self, pipeline: VideoPipeline, pool: ThreadPoolExecutor, identity: batch.IdentityPort,
                 analytics: batch.AnalyticsPort, worker: str, in_flight: int) -> None:
        self.pipeline = pipeline
        self.pool = pool
        self.identity = identity
        self.analytics = analytics
        self.worker = worker
        self.in_flight = max(1, in_flight)  # videos started at once; a cancel stops only the ones not started

    def __call__(self, run: JobRun) -> None:
        batch.open_batch(self.identity, self.analytics, self.worker)
        processed: list[str] = []
        running: set[Future[Outcome]] = set()
        try:
            for task in self._tasks(run):
                if isinstance(task, ingest_pb2.WatchJobResponse):
                    run.publish(task)
                    continue
                while len(running) >= self.in_flight:
                    running = self._collect(run, running, processed)
                if run.cancelled:
                    break
                running.add(self.pool.submit(task))
        finally:
            # Videos already started always finish and are reported, even when the job fails or is cancelled.
            while running:
                running = self._collect(run, running, processed)
        if processed:
            applied = batch.reconcile(self.identity, self.analytics, processed)
            run.set_changed_videos(applied.changed_videos)
            log.info("re-clustered around %d new videos: %d videos changed people", len(processed),
                     applied.changed_videos)
        # Only a batch that got this far is complete; anything earlier leaves the batch open for repair.
        batch.close_batch(self.identity, self.worker)

    def _collect(self, run: JobRun, running: set[Future[Outcome]], processed: list[str]) -> set[Future[Outcome]]:
        """Waits for at least one video to finish and publishes the finished ones; returns the others."""
        finished, still = wait(running, return_when=FIRST_COMPLETED)
        for fut in finished:
            outcome = fut.result()
            if outcome.recorded and outcome.video.status == common_pb2.VIDEO_STATUS_DONE:
                processed.append(outcome.video.video_id)
            run.publish(ingest_pb2.WatchJobResponse(video=outcome.video, appearances=outcome.appearances,
                                                  stage_seconds=outcome.stage_seconds))
        return still

    def _tasks(self, run: JobRun) -> Iterator[ingest_pb2.WatchJobResponse | _Task]:
        """In submission order: a progress message for a row settled without processing, else a task."""
        request = run.request
        base_dir = Path(request.base_dir or ".")
        first_line: dict[str, int] = {}
        valid_urls = {sub.url for sub in request.videos if not sub.row_error}
        for k, sub in enumerate(request.videos):
            if sub.row_error and sub.url in valid_urls:
                # A broken row for a URL that a good row of this batch gives: reported, not recorded.
                video = common_pb2.Video(url=sub.url, status=common_pb2.VIDEO_STATUS_FAILED, error=sub.row_error)
                yield ingest_pb2.WatchJobResponse(video=video)
                continue
            if sub.url and sub.url in first_line and not sub.row_error:
                video = common_pb2.Video(url=sub.url, status=common_pb2.VIDEO_STATUS_DUPLICATE,
                                         error=f"same URL as row {first_line[sub.url] + 1} of this submission")
                yield ingest_pb2.WatchJobResponse(video=video)
                continue
            first_line.setdefault(sub.url, k)
            yield _Task(self.pipeline, sub, base_dir)


class _Task:
    """One row to process: calling it runs the pipeline."""

    def __init__(self, pipeline: VideoPipeline, sub: ingest_pb2.VideoSubmission, base_dir: Path) -> None:
        self._pipeline, self._sub, self._base_dir = pipeline, sub, base_dir

    def __call__(self) -> Outcome:
        sub = self._sub
        perf = sub.performance if sub.HasField("performance") else None
        return self._pipeline.process(sub.url, perf, sub.external_id, sub.row_error, self._base_dir)
