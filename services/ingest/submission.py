"""The rows of submitted catalogues, run by any replica: one row through the pipeline, and a job's reconcile
through the batch protocol. This is the `jobs.RowRunner` of production.

A row taken over after its owner died (its lease expired) may have left half a video in identity: the dead
attempt noted the video's content id before analysing it. If analytics recorded that video as done, the
attempt got that far and the video counts as processed (the pipeline then sees the row as known); otherwise
its faces are forgotten in identity (ForgetVideo, through the batch port) before the row runs again, so
nothing is counted twice (videos are keyed by content hash, and recording a video again replaces it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, ingest_pb2
from services.common.boundary import nul_field, shown
from services.common.metrics import observe_stages
from services.common.protoconv import durations
from services.common.row_keys import manifest_row_key
from services.common.scores import score_problem
from services.common.url_secrets import userinfo_hidden
from services.ingest import batch
from services.ingest.job_store import Claim
from services.ingest.jobs import given_up, row_label
from services.ingest.manifest import MAX_CELL_CHARS, unpadded
from services.ingest.pipeline import VideoPipeline

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
            sub.row_error = sub.row_error or f"{row_label(checked, k)}: {problem}"
    return checked


def with_userinfo_hidden(request: ingest_pb2.StartIngestRequest) -> ingest_pb2.StartIngestRequest:
    """A copy of `request` whose URLs hold no user name or password (`***@` in their place, netguard.
    userinfo_hidden): such a URL is refused all the same, and a row's URL is stored, logged, exported and shown
    (the job store, videos.csv, the page, the CLI). Each URL is first read as a manifest's cell is, without the
    blanks and invisible characters around it (manifest.unpadded): a caller's ` https://ann:pw@cdn/v.mp4` was
    run as a local path, its password kept and shown, where the same cell in a manifest is the link."""
    hidden = ingest_pb2.StartIngestRequest()
    hidden.CopyFrom(request)
    for sub in hidden.videos:
        sub.url = userinfo_hidden(unpadded(sub.url))
    return hidden


def text_problem(request: ingest_pb2.StartIngestRequest) -> str | None:
    """Where `request` holds a text no store keeps or no manifest has: a NUL character (PostgreSQL refuses it in
    any text; a manifest's reader refuses such a line), or more characters than a manifest cell may hold
    (manifest.MAX_CELL_CHARS: such a manifest is refused whole). Its base_dir, or a row's field named with the
    row (`line 3: url holds a NUL character`); None when nowhere."""
    fields = [("base_dir", "base_dir", request.base_dir)]
    fields += [(f"{row_label(request, k)}: {f}", f, getattr(sub, f)) for k, sub in enumerate(request.videos)
               for f in ("url", "external_id", "row_error", "manifest")]
    for where, name, text in fields:
        if nul_field([(name, text)]):
            return f"{where} holds a NUL character ({shown(text)})"
        if len(text) > MAX_CELL_CHARS:
            return f"{where} is longer than {MAX_CELL_CHARS:,} characters ({shown(text)})"
    return None


def line_problem(request: ingest_pb2.StartIngestRequest) -> str | None:
    """Where two rows of `request` give one line of one manifest, None when none do. A row that fails before it
    names a file is recorded under its manifest's line (row_keys.manifest_row_key), so the second row's record
    replaced the first's: a row lost from videos.csv and the page. A manifest's reader gives each row its own."""
    first: dict[tuple[str, int], int] = {}
    for k, sub in enumerate(request.videos):
        if sub.line <= 0:  # 0: named by its place in the submission, which is its own
            continue
        if (seen := first.setdefault((sub.manifest, sub.line), k)) != k:
            of = f" of {shown(sub.manifest)}" if sub.manifest else ""
            return (f"rows {seen + 1} and {k + 1} of this submission both give line {sub.line}{of}: each row has a "
                    "line of its own in its file (or 0)")
    return None


class SubmissionRunner:
    """Runs rows with `pipeline`; `identity` and `analytics` are the batch protocol's ports, `records` the
    analytics stub (is a video recorded as done?), `worker` the name this replica's batches go under."""

    def __init__(self, pipeline: VideoPipeline, identity: batch.IdentityPort, analytics: batch.AnalyticsPort,
                 records: analytics_pb2_grpc.AnalyticsServiceStub, worker: str, timeout_s: float,
                 feed_wait_s: float = batch.JOB_WAIT_S,
                 live_videos: Callable[[], set[str]] = set,
                 analysed_elsewhere: Callable[[Claim], bool] = lambda _claim: False) -> None:
        self.pipeline = pipeline
        self.identity = identity
        self.analytics = analytics
        self.records = records
        self.worker = worker
        self.timeout_s = timeout_s
        self.live_videos = live_videos  # videos rows of any replica are analysing now (the job store)
        self.feed_wait_s = feed_wait_s  # how long a job's reconcile waits for analytics to apply the feed (s)
        self.analysed_elsewhere = analysed_elsewhere  # another live row analyses a claim's previous video (job store)

    def open_batch(self) -> None:
        # Another replica's rows in flight are in identity and not yet done in analytics: to the repair they
        # look like orphans of this replica's interrupted batch. They count as done here; if their owner
        # dies, the row's next attempt forgets its half-done video itself.
        batch.open_batch(self.identity, _LiveCountsAsDone(self.analytics, self.live_videos), self.worker)

    def close_batch(self) -> None:
        batch.close_batch(self.identity, self.worker)

    def reconcile(self, video_ids: list[str]) -> int:
        applied = batch.reconcile(self.identity, self.analytics, video_ids, self.feed_wait_s)
        new, changed = len(video_ids), applied.changed_videos
        log.info("re-clustered around %d new video%s: %d video%s changed people", new, "" if new == 1 else "s",
                 changed, "" if changed == 1 else "s")
        return applied.changed_videos

    def run_row(self, claim: Claim, note_video: Callable[[str], None]) -> tuple[ingest_pb2.WatchJobResponse, str]:
        already = ""
        if claim.previous_video_id:
            if self._recorded_done(claim.previous_video_id):
                already = claim.previous_video_id
            elif not self.analysed_elsewhere(claim):
                # Not when another row analyses the same bytes now: forgotten, its faces were gone when that row
                # recorded the video done, and its people lost for good (the bytes are done: never analysed again).
                self.identity.forget_video(claim.previous_video_id)
        sub = claim.submission
        perf = sub.performance if sub.HasField("performance") else None
        # A row whose attempts all died is failed and recorded as such, never analysed; unless the attempt
        # before died once its video was recorded done: then there is nothing to give up.
        row_error = sub.row_error or ("" if already else given_up(claim.attempts))
        outcome = self.pipeline.process(sub.url, perf, sub.external_id, row_error,
                                        Path(claim.base_dir or "."), on_video_id=note_video, repeats=sub.repeats,
                                        row_key=manifest_row_key(claim.base_dir, sub.line, claim.idx, sub.manifest),
                                        kept_apart=sub.kept_apart)
        observe_stages(outcome.stage_seconds)  # fetch, decode, record; identity's stages are observed there
        processed = already
        if outcome.recorded and outcome.video.status == common_pb2.VIDEO_STATUS_DONE:
            processed = outcome.video.video_id
        progress = ingest_pb2.WatchJobResponse(video=outcome.video, appearances=outcome.appearances,
                                             stage_durations=durations(outcome.stage_seconds),
                                             already_counted=outcome.already_counted,
                                             score_changed=outcome.score_changed,
                                             previous_performance=outcome.previous_performance)
        return progress, processed

    def _recorded_done(self, video_id: str) -> bool:
        try:
            request = analytics_pb2.GetVideoRequest(video_id=video_id)
            video = self.records.GetVideo(request, timeout=self.timeout_s).video
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return video.status == common_pb2.VIDEO_STATUS_DONE


class _LiveCountsAsDone:
    """The batch protocol's analytics port, with the videos being analysed under a live lease listed among
    the done ones (on the first page), so that a repair leaves them alone."""

    def __init__(self, analytics: batch.AnalyticsPort, live_videos: Callable[[], set[str]]) -> None:
        self._analytics = analytics
        self._live_videos = live_videos

    def list_done_video_ids(self, page_token: str) -> tuple[list[str], str]:
        ids, token = self._analytics.list_done_video_ids(page_token)
        return (ids + sorted(self._live_videos()) if not page_token else ids), token

    def wait_for_position(self, position: int, timeout_s: float) -> bool:
        return self._analytics.wait_for_position(position, timeout_s)
