"""The ingest commands against running services (ingest, jobs, cancel): a job submitted, then followed with a
progress bar until it ends."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from datetime import UTC

import grpc
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from influencers.cli.config import settings_from_args, uses_json_logs
from influencers.cli.connect import reach_flags, reached
from influencers.cli.output import ServiceUnavailable, cut, tell
from influencers.cli.stopping import Terminated, exit_code
from influencers.client import JobStalled, cancel_job, get_job, list_jobs, state_word, submit_ingest, watch_job
from influencers.v1 import common_pb2, ingest_pb2
from services.common.damage import DISK_FULL, DiskFull
from services.common.name_text import for_terminal
from services.common.protoconv import seconds, status_word
from services.common.rpc import wait_healthy
from services.common.settings import Settings
from services.ingest.fetch import shown_url

WARNING = "warning: "  # starts the error of a done row that may be partial (services/ingest/pipeline.py WARNING)
WATCH_TIMEOUT_S = 7 * 24 * 3600  # following a job: as long as it takes
# tqdm's own, with the rate always as videos a second: below one a second tqdm turned it into "1.61s/ video".
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"


def run_ingest(settings: Settings, request: ingest_pb2.StartIngestRequest, detach: bool,
               submit_only: bool = False, earlier_first: bool = False) -> int:
    """Starts an ingest job of `request` (the manifest as check_inputs read it, once) and follows it with a
    progress bar. On Ctrl-C or SIGTERM, `detach` leaves the job running (and says how to follow or cancel it);
    otherwise Ctrl-C cancels the job (its videos in flight finish and the batch reconciles) and both go on up.
    `submit_only` (--detach): prints the job id alone on the last line of stdout and returns 0 without following
    the job. `earlier_first` (`run`): the unfinished jobs queued before it, which run first, are followed first,
    each with its bar and summary (an earlier run killed, and its manifest edited since: the job it left is not
    this one's to resume); the bar of this job sat at 0 meanwhile, saying only "queued behind 1 job"."""
    channel = reached(settings, "ingest", settings.ingest_target)
    wait_s = min(60.0, settings.rpc_timeout_s)
    try:
        wait_healthy(channel, wait_s)
    except TimeoutError:
        raise ServiceUnavailable(f"the ingest service at {settings.ingest_target} is not ready: it did not "
                                 f"answer its health check within {wait_s:g} s") from None
    answer = submit_ingest(channel, request, settings.rpc_timeout_s)
    job = answer.job
    waiting = (ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING)
    ahead = [j for j in list_jobs(channel, settings.rpc_timeout_s)
             if j.state in waiting and j.job_id != job.job_id and seconds(j.create_time) <= seconds(job.create_time)]
    json_logs = uses_json_logs(settings)
    tell(job_started(job.job_id, job.total, len(ahead), job.done if answer.resumed else None), json_logs,
         fields={"job_id": job.job_id})
    if submit_only:
        tell(f"follow it: influencers jobs {job.job_id}{reach_flags(settings, 'ingest')}", json_logs,
             fields={"job_id": job.job_id})
        print(job.job_id, flush=True)  # alone on the last line of stdout: scripts read it
        return 0
    tally = Tally()
    try:
        code = 0
        for before in ahead if earlier_first else []:
            tell(earlier_said(before), json_logs, fields={"job_id": before.job_id})
            code = max(code, _follow(channel, before.job_id, Tally(), before.total, json_logs))
        if earlier_first and ahead:
            tell(f"job {job.job_id}: this run's", json_logs, fields={"job_id": job.job_id})
        return max(code, _follow(channel, job.job_id, tally, job.total, json_logs))
    except JobStalled as exc:
        raise stalled_error(exc, resumes_itself=detach, where=reach_flags(settings, "ingest")) from None
    except (KeyboardInterrupt, Terminated) as stop:
        if not detach:
            if isinstance(stop, KeyboardInterrupt):
                cancel_job(channel, job.job_id, settings.rpc_timeout_s)
            raise
        detached = f"detached after {tally.seen} of {job.total} videos: job {job.job_id} goes on"
        where = reach_flags(settings, "ingest")
        follow, cancel = f"influencers jobs {job.job_id}{where}", f"influencers cancel {job.job_id}{where}"
        if json_logs:  # one record, as every other line of stderr then is
            tell(f"{detached}; follow it: {follow}; cancel it: {cancel}", json_logs)
        else:  # on a line of its own, after the terminal's ^C
            print(f"\n{detached}.\n  follow it:  {follow}\n  cancel it:  {cancel}", file=sys.stderr)
        return exit_code(stop)


def job_started(job_id: str, total: int, ahead: int, resumed_done: int | None = None) -> str:
    """The first line of a job followed: its id, its videos and the jobs queued before it (when any).
    `resumed_done`: the job is an earlier run's of the same manifest, left unfinished (its client killed), with
    that many videos done before; None for a job queued now."""
    queued = f", queued behind {ahead} job{'' if ahead == 1 else 's'}" if ahead else ""
    resumed = (f" (resumed: the same manifest's job left unfinished, {resumed_done} of {total} done before)"
               if resumed_done is not None else "")
    return f"job {job_id}: {total} video{'' if total == 1 else 's'}{queued}{resumed}"


def earlier_said(job: ingest_pb2.Job) -> str:
    """The line before an unfinished job queued ahead of `run`'s is followed (run_ingest's earlier_first)."""
    return (f"job {job.job_id} first: {job.done} of {job.total} videos done, left unfinished by an earlier run of "
            "another manifest (or of this one before an edit); its videos run before this run's")


def stalled_error(exc: JobStalled, resumes_itself: bool, where: str = "") -> DiskFull:
    """The one line for a job that cannot go on: what to do, as the command that followed it can say. `run`'s
    services stop with the command (the job resumes when it is run again); others' go on by themselves.
    `where`: the options that reach the ingest service (reach_flags), for the command it suggests."""
    then = (f"free some space: the job goes on by itself (follow it: influencers jobs {exc.job.job_id}{where})"
            if resumes_itself else "free some space and run the same command again to resume")
    return DiskFull(f"{exc}; {then}")


# Failed rows listed again in a job's summary: each was shown as it failed; a manifest of 100,000 bad URLs
# listed them all a second time (and the CLI kept every error text until the job ended).
FAILURES_LISTED = 50


class Tally:
    """What a job's summary needs of its progress messages, a few bytes a row: a message kept whole costs about
    1.4 kB, so a manifest of a million rows held 1.4 GB in the CLI until its job ended."""

    def __init__(self) -> None:
        self.seen = 0
        self.statuses: Counter[str] = Counter()
        self.counted_before = 0  # done rows an earlier submission had counted
        self.failed = 0
        self.failures: list[str] = []  # the errors of the first FAILURES_LISTED failed rows
        self.disk_full = False  # a row failed on a full disk (ingest then stops the job)
        self.scores_changed = 0  # counted videos whose score this job replaced
        self.score_changes: list[str] = []  # the first FAILURES_LISTED of them, as the summary lists them

    def add(self, progress: ingest_pb2.WatchJobResponse) -> None:
        video = progress.video
        self.seen += 1
        self.statuses[status_word(video.status)] += 1
        # Of the rows said done: a duplicate row found again is counted before too, and stays a duplicate
        self.counted_before += progress.already_counted and video.status == common_pb2.VIDEO_STATUS_DONE
        if progress.score_changed:
            self.scores_changed += 1
            if len(self.score_changes) < FAILURES_LISTED:
                self.score_changes.append(score_change(progress))
        if video.status == common_pb2.VIDEO_STATUS_FAILED:
            self.failed += 1
            if len(self.failures) < FAILURES_LISTED:
                self.failures.append(video.error)
            # Read past the URL the error starts with, as ingest reads it: a file named "disk full.mp4" is none.
            self.disk_full |= DISK_FULL in video.error.removeprefix(shown_url(video.url)).removeprefix(video.url)


def score_change(progress: ingest_pb2.WatchJobResponse) -> str:
    """A counted video whose score a rerun replaced, as the summary lists it: its URL (secrets hidden), its id,
    old -> new (\"none\" when it had no score)."""
    video = progress.video

    def shown(score: float) -> str:
        return repr(score).removesuffix(".0")
    old = shown(progress.previous_performance) if progress.HasField("previous_performance") else "none"
    return f"{for_terminal(shown_url(video.url))} (video {video.video_id}): {old} -> {shown(video.performance)}"


def _follow(channel: grpc.Channel, job_id: str, tally: Tally, total: int, json_logs: bool = False) -> int:
    """Shows a job's progress (of `total` videos) until it ends, then a summary; 1 when a video failed or the
    job did not succeed. `tally` counts the progress messages as they come. With `json_logs` stderr is
    JSON lines only: no bar, and each failed or partly read video is a log record."""
    bar = tqdm(total=total, unit=" video", desc="ingest", file=sys.stderr, disable=json_logs, bar_format=BAR_FORMAT)

    def say(line: str, video: common_pb2.Video) -> None:
        # With JSON logs the record names the job and the row's URL (its secrets hidden) as fields of its own.
        fields = {"job_id": job_id, "url": shown_url(video.url), "reason": video.error}
        tell(line, json_logs, logging.WARNING, {k: v for k, v in fields.items() if v})

    def progress(p: ingest_pb2.WatchJobResponse) -> None:
        tally.add(p)
        bar.total = p.total
        bar.update(1)
        if p.video.status == common_pb2.VIDEO_STATUS_FAILED:
            say(f"FAILED  {for_terminal(p.video.error)}", p.video)
        elif p.video.error.startswith(WARNING):  # done, but maybe partly (a truncated file)
            said = p.video.error.removeprefix(WARNING)
            say(f"WARNING {for_terminal(cut(p.video.url))}: {for_terminal(said)}", p.video)

    try:
        with logging_redirect_tqdm():  # the services of `run` log here too: above the bar, never inside it
            _, job = watch_job(channel, job_id, WATCH_TIMEOUT_S, progress, keep=False)
    finally:
        bar.close()
    said = {k: f"{n} {k}" for k, n in sorted(tally.statuses.items())}
    if tally.counted_before:  # rows a rerun found counted: say so, or 0.7 s looks like 12 videos analysed
        n = tally.scores_changed
        changed = f"; {n} score{'' if n == 1 else 's'} changed" if n else ""
        said["done"] += f" ({tally.counted_before} counted before: not analysed again{changed})"
    print("videos: " + ", ".join(said.values()))
    for change in tally.score_changes:  # the report's numbers now use the new score, once
        print(f"  score changed: {change}")
    if tally.scores_changed > len(tally.score_changes):
        print(f"  ... and {tally.scores_changed - len(tally.score_changes)} more scores changed (all in the "
              f"report's videos.csv)")
    for error in tally.failures:
        print(f"  failed: {for_terminal(error)}")
    if tally.failed > len(tally.failures):
        print(f"  ... and {tally.failed - len(tally.failures)} more failed rows (each shown as it failed, above; "
              f"all in the report's videos.csv)")
    if job.state == ingest_pb2.JOB_STATE_FAILED:
        tell(f"job {job_id} failed: {for_terminal(job.error)} (the next job repairs what it left half done)", json_logs,
             logging.ERROR, {"job_id": job_id})
    elif job.state == ingest_pb2.JOB_STATE_CANCELLED and tally.disk_full:
        tell(f"job {job_id} was cancelled after {job.done} of {job.total} videos: {DISK_FULL} (the failed row above "
             f"says where); free some space and run the same command again to resume", json_logs, logging.ERROR,
             {"job_id": job_id})
    elif job.state == ingest_pb2.JOB_STATE_CANCELLED:
        tell(f"job {job_id} was cancelled after {job.done} of {job.total} videos", json_logs, logging.WARNING,
             {"job_id": job_id})
    return 1 if tally.failed or job.state != ingest_pb2.JOB_STATE_SUCCEEDED else 0


def cmd_ingest(args: argparse.Namespace) -> int:
    return run_ingest(settings_from_args(args), args.manifest_request, detach=True, submit_only=args.detach)


def cmd_jobs(args: argparse.Namespace) -> int:
    """Without a job id: the ingest jobs, oldest first. With one: follows that job to its end."""
    settings = settings_from_args(args)
    channel = reached(settings, "ingest", settings.ingest_target)
    if args.job:
        job = get_job(channel, args.job, settings.rpc_timeout_s)  # an unknown id or no service: one line, at once
        try:
            return _follow(channel, args.job, Tally(), job.total, uses_json_logs(settings))
        except JobStalled as exc:
            raise stalled_error(exc, resumes_itself=True, where=reach_flags(settings, "ingest")) from None
        except (KeyboardInterrupt, Terminated) as stop:
            stopped = f"stopped following; job {args.job} goes on"
            if uses_json_logs(settings):
                tell(stopped, json_logs=True)
            else:
                print(f"\n{stopped}", file=sys.stderr)
            return exit_code(stop)
    jobs = list_jobs(channel, settings.rpc_timeout_s)
    if not jobs:
        print("no ingest jobs yet (start one: influencers ingest MANIFEST)")
    for job in jobs:
        print(job_line(job))
    return 0


def job_line(job: ingest_pb2.Job) -> str:
    """One job as `influencers jobs` lists it: id, state, when it was submitted (UTC, to the minute: jobs of one
    manifest run again are told apart by it), videos with an outcome of all, by status, and any error."""
    counts = ", ".join(f"{n} {k}" for k, n in sorted(job.statuses.items()))
    created = job.create_time.ToDatetime(UTC).strftime("%Y-%m-%d %H:%M UTC") if job.HasField("create_time") else "-"
    return (f"{job.job_id}  {state_word(job.state):9}  {created}  {job.done}/{job.total} videos"
            + (f" ({counts})" if counts else "") + (f"  {for_terminal(job.error)}" if job.error else ""))


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancels an ingest job: videos not started are not started; the batch still reconciles."""
    settings = settings_from_args(args)
    channel = reached(settings, "ingest", settings.ingest_target)
    job = cancel_job(channel, args.job, settings.rpc_timeout_s)
    ended = None if job.state == ingest_pb2.JOB_STATE_RUNNING else get_job(
        channel, job.job_id, settings.rpc_timeout_s).state
    print(cancel_said(job, ended))
    return 0


def cancel_said(job: ingest_pb2.Job, state_now: int | None) -> str:
    """What `cancel` says of `job` as CancelJob answered it; `state_now`: the job's state read again when
    the answer was not RUNNING (None when it was)."""
    if job.state == ingest_pb2.JOB_STATE_RUNNING and job.total and job.done >= job.total:
        # Reconciling: a job with every video done ends as it is (cancelled only with videos left undone)
        videos = "its video is" if job.total == 1 else f"all {job.total} videos are"
        return f"job {job.job_id}: {videos} done already (the job is finishing); nothing to cancel"
    # A job not ended yet (queued too: it ends once its rows' "not processed" records are written) is cancelling.
    if job.state == ingest_pb2.JOB_STATE_RUNNING or state_now in (None, ingest_pb2.JOB_STATE_QUEUED,
                                                                   ingest_pb2.JOB_STATE_RUNNING):
        return f"job {job.job_id}: cancelling (videos in flight finish; `influencers jobs {job.job_id}` follows it)"
    if state_now in (ingest_pb2.JOB_STATE_SUCCEEDED, ingest_pb2.JOB_STATE_FAILED):  # a cancel never ends so
        return f"job {job.job_id}: {state_word(state_now)} already; nothing to cancel"
    return f"job {job.job_id}: {state_word(state_now)}"
