"""Client side of ingestion: turns a manifest into an ingest job and follows it (StartIngest, WatchJob,
GetJob), reopening the progress stream when it drops."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import grpc

from influencers.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc
from services.common.rpc import MAX_MESSAGE_BYTES
from services.ingest.manifest import MAX_MANIFEST_BYTES, ManifestError, ManifestRow, manifest_rows

# The words that start ingest's refusal of a submission past its limit of submissions at once (its server's
# SUBMISSIONS_BUSY, repeated: importing the server would load its every dependency into the CLI).
SUBMISSIONS_BUSY = "ingest is busy"
BUSY_PAUSE_S = 0.5  # seconds before a submission ingest was too busy to take is sent again

ENDED = (ingest_pb2.JOB_STATE_SUCCEEDED, ingest_pb2.JOB_STATE_FAILED, ingest_pb2.JOB_STATE_CANCELLED)
REOPEN_ATTEMPTS = 6  # consecutive failed reopenings of a watch before giving up (about a minute in all)

Progress = Callable[[ingest_pb2.WatchJobResponse], None]


class JobFailed(RuntimeError):
    """The job itself failed (not a video of it: those are recorded against their rows)."""

    def __init__(self, job: ingest_pb2.Job) -> None:
        super().__init__(f"ingest job {job.job_id} failed: {job.error}")
        self.job = job


class JobStalled(RuntimeError):
    """None of the job's rows can move now (Job.stalled says why: a full disk); the job goes on by itself once
    the cause is gone."""

    def __init__(self, job: ingest_pb2.Job) -> None:
        super().__init__(f"ingest job {job.job_id} cannot go on: {job.stalled}")
        self.job = job


def ingest_request(manifest: Path, rows: Iterable[ManifestRow], max_request_bytes: int = MAX_MESSAGE_BYTES,
                   resume_unfinished: bool = False) -> ingest_pb2.StartIngestRequest:
    """The StartIngest request of `rows`, read from `manifest` (each row a VideoSubmission naming the manifest's
    file, VideoSubmission.manifest). ManifestError naming the manifest and the row's line at the first row that
    takes the request past what one call carries (`max_request_bytes`): its text as UTF-8, each row with the
    manifest's name, can pass the file's own limit (a Windows-1252 file of accented names doubles; a file of a
    million short rows, 16 MB, makes 39 MB). `rows` are taken one at a time (manifest.manifest_rows), so that such a
    file is refused at that row, the rest left unread (was: read whole and made into a request, 25 s of CPU, then
    refused; before that, `the ingest service ... cannot take it now: CLIENT: Sent message larger than max`,
    which a retry never passes). The request carries a key of its own (request_id): sent again, it is answered
    with the job it made, so that a retry whose first call's reply was lost does not queue the manifest twice.
    `resume_unfinished`: a job of the very same rows left unfinished (its client killed) is resumed rather than
    queued again (StartIngestRequest.resume_unfinished)."""
    request = ingest_pb2.StartIngestRequest(base_dir=str(manifest_folder(manifest)), request_id=str(uuid.uuid4()),
                                             resume_unfinished=resume_unfinished)
    size = request.ByteSize()
    for n, row in enumerate(rows, 1):
        sub = request.videos.add(url=row.url, external_id=row.external_id, line=row.line, manifest=manifest.name,
                                 row_error=f"line {row.line}: {row.error}" if row.error else "")
        if row.performance is not None:
            sub.performance = row.performance
        sub_size = sub.ByteSize()
        size += 1 + max(1, (sub_size.bit_length() + 6) // 7) + sub_size  # the field's tag, length and message
        if size > max_request_bytes:
            raise ManifestError(f"manifest {manifest} makes a request of more than the {max_request_bytes:,} bytes "
                                f"one call to ingest carries, by its row on line {row.line:,} (row {n:,}): split it "
                                "into several")
    return request


def manifest_folder(manifest: Path) -> Path:
    """The folder a manifest's relative URLs are read from: its own; the working directory for one that has none,
    a pipe (`-`, /dev/stdin, `<(command)`), whose path resolves to /proc/PID/fd/pipe:[N]."""
    resolved = manifest.resolve()
    return resolved.parent if resolved.exists() else Path.cwd()


def start_ingest(channel: grpc.Channel, manifest: Path, timeout_s: float,
                 max_bytes: int = MAX_MANIFEST_BYTES) -> ingest_pb2.Job:
    """Queues every row of `manifest` (relative URLs resolve against its folder; at most `max_bytes`
    bytes) as one job; returns it."""
    return submit_ingest(channel, ingest_request(manifest, manifest_rows(manifest, max_bytes)), timeout_s).job


def submit_ingest(channel: grpc.Channel, request: ingest_pb2.StartIngestRequest, timeout_s: float
                  ) -> ingest_pb2.StartIngestResponse:
    """Queues `request` (ingest_request: a manifest read once) as one job; returns the answer: the job, and
    whether it is an earlier submission's left unfinished, resumed (StartIngestResponse.resumed). Every attempt
    sends the one request, its key included (ingest_request)."""
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return stub.StartIngest(request, timeout=max(0.1, deadline - time.monotonic()))
        except grpc.RpcError as exc:
            # The replica takes a few submissions at once (services/ingest/server.py MAX_SUBMISSIONS): ask again
            # until the deadline. Any other refusal (a full queue of jobs, a bad row) is the caller's to read.
            busy = exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and (exc.details() or "").startswith(
                SUBMISSIONS_BUSY)
            if not busy or time.monotonic() + BUSY_PAUSE_S >= deadline:
                raise
            time.sleep(BUSY_PAUSE_S)


def watch_job(channel: grpc.Channel, job_id: str, timeout_s: float, on_progress: Progress | None = None,
              results: list[ingest_pb2.WatchJobResponse] | None = None, keep: bool = True
              ) -> tuple[list[ingest_pb2.WatchJobResponse], ingest_pb2.Job]:
    """Follows a job to its end within `timeout_s` seconds: returns its progress messages (one a video,
    in completion order) and its final state. A dropped stream (a server's maximum connection age, a
    network blip) is reopened where it stopped; a stalled job (Job.stalled: a full disk) raises JobStalled.
    `results` collects the messages as they come (a caller interrupted mid-way keeps what it got). `keep`
    False: none is kept (a caller reading them through `on_progress` alone: a message costs about 1.4 kB,
    1.4 GB for a job of a million rows)."""
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    deadline = time.monotonic() + timeout_s
    results = [] if results is None else results
    seen = len(results)
    failures = 0
    while True:
        try:
            stream = stub.WatchJob(ingest_pb2.WatchJobRequest(job_id=job_id, skip=seen), timeout=_left(deadline))
            for progress in stream:
                seen += 1
                if keep:
                    results.append(progress)
                failures = 0
                if on_progress is not None:
                    on_progress(progress)
            job = stub.GetJob(ingest_pb2.GetJobRequest(job_id=job_id), timeout=_left(deadline)).job
            if job.state in ENDED:
                return results, job
            if job.stalled:
                raise JobStalled(job)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or failures >= REOPEN_ATTEMPTS:
                raise
        # The stream ended before the job (the server stopping, or the connection closed): reopen it.
        failures += 1
        if failures > REOPEN_ATTEMPTS:
            raise TimeoutError(f"lost the progress of job {job_id}: its stream kept ending before the job")
        time.sleep(min(0.25 * 2**failures, 15.0))


def ingest_manifest(channel: grpc.Channel, manifest: Path, timeout_s: float, on_progress: Progress | None = None
                    ) -> list[ingest_pb2.WatchJobResponse]:
    """Submits every row of `manifest` as a job and follows it to its end (reconciled and closed); returns
    the progress message of each video, in completion order. Raises JobFailed when the job failed."""
    job = start_ingest(channel, manifest, timeout_s)
    results, job = watch_job(channel, job.job_id, timeout_s, on_progress)
    if job.state == ingest_pb2.JOB_STATE_FAILED:
        raise JobFailed(job)
    return results


def get_job(channel: grpc.Channel, job_id: str, timeout_s: float) -> ingest_pb2.Job:
    return ingest_pb2_grpc.IngestServiceStub(channel).GetJob(ingest_pb2.GetJobRequest(job_id=job_id),
                                                             timeout=timeout_s).job


def cancel_job(channel: grpc.Channel, job_id: str, timeout_s: float) -> ingest_pb2.Job:
    return ingest_pb2_grpc.IngestServiceStub(channel).CancelJob(ingest_pb2.CancelJobRequest(job_id=job_id),
                                                                timeout=timeout_s).job


def list_jobs(channel: grpc.Channel, timeout_s: float) -> list[ingest_pb2.Job]:
    reply = ingest_pb2_grpc.IngestServiceStub(channel).ListJobs(ingest_pb2.ListJobsRequest(), timeout=timeout_s)
    return list(reply.jobs)


def failed(results: list[ingest_pb2.WatchJobResponse]) -> list[common_pb2.Video]:
    return [r.video for r in results if r.video.status == common_pb2.VIDEO_STATUS_FAILED]


def state_word(state: int) -> str:
    """`JOB_STATE_QUEUED` -> "queued"."""
    return ingest_pb2.JobState.Name(state).removeprefix("JOB_STATE_").lower()  # type: ignore[arg-type]


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the ingest job did not end in time")
    return left
