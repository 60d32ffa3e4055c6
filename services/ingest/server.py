"""IngestService over gRPC: submitted catalogues become jobs stored in SQL (`job_store.JobStore`: SQLite in the
data dir, or the PostgreSQL database of INFLUENCERS_DATABASE_URL shared by every replica); this replica's
worker threads (`jobs.JobQueue`) take rows of any job and run them with `submission.SubmissionRunner`. The
servicer only translates protos to queue calls and back, so every replica answers the same."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import sqlalchemy as sa

from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from services.common.boundary import nul_field, shown
from services.common.clients import GrpcAnalytics, GrpcIdentity
from services.common.database import database_url, left_behind, open_engine
from services.common.datadir import data_dir_hidden
from services.common.metrics import GAUGES
from services.common.rpc import RunningServer, build_server, open_channel
from services.common.settings import Settings
from services.common.starting import StartingHealth
from services.common.tls import channel_credentials, server_credentials
from services.ingest.job_store import JobStore, migrate, new_owner
from services.ingest.jobs import JobQueue, QueueFull, prepared
from services.ingest.pipeline import VideoPipeline
from services.ingest.queue_holders import QueueHolders, sqlite_file
from services.ingest.repost_store import RepostStore
from services.ingest.request_ids import RequestIdReused, request_digest, request_key
from services.ingest.room import Room
from services.ingest.stale_rows import forget_stale_rows
from services.ingest.submission import (
    SubmissionRunner,
    line_problem,
    text_problem,
    with_scores_checked,
    with_userinfo_hidden,
)

log = logging.getLogger(__name__)

SERVER_THREADS = 16
# Watchers hold a server thread each for as long as they watch: at most this many at once, so that the
# other threads always answer the short calls (health, GetJob, ListJobs, CancelJob).
MAX_WATCHERS = 10
# StartIngest calls at once. A request may be 32 MiB (a job of 100,000 rows), parsed, checked and written in one
# transaction: thirty such at once held all 16 threads (health checks timed out past 30 s) and SQLite's writer
# lock past its 30 s wait ("database is locked": INTERNAL). Past it: RESOURCE_EXHAUSTED starting SUBMISSIONS_BUSY,
# which influencers/client.py start_ingest sends again after a pause. With the watchers, 2 threads stay free.
MAX_SUBMISSIONS = 4
SUBMISSIONS_BUSY = "ingest is busy"
JOB_ROWS_AGE_S = 5.0  # seconds influencers_job_rows may be old (a scrape every 15 s or so reads it afresh)


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, jobs: JobQueue, analytics: analytics_pb2_grpc.AnalyticsServiceStub, timeout_s: float,
                 max_job_rows: int = 100_000, max_watchers: int = MAX_WATCHERS) -> None:
        self.jobs = jobs
        self.analytics = analytics
        self.timeout_s = timeout_s
        self.max_job_rows = max_job_rows
        self.max_watchers = max_watchers
        self._watchers = threading.BoundedSemaphore(max_watchers)
        self._submissions = threading.BoundedSemaphore(MAX_SUBMISSIONS)

    def StartIngest(self, request: ingest_pb2.StartIngestRequest, context: grpc.ServicerContext
                    ) -> ingest_pb2.StartIngestResponse:
        if not request.videos:  # a job of nothing: it would be listed, watched and reconciled for no video
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request holds no videos: a job needs at least one "
                                                            "row (a manifest with a header and no rows)")
        if len(request.videos) > self.max_job_rows:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"{len(request.videos)} videos in one job; the limit is {self.max_job_rows} "
                          "(INFLUENCERS_MAX_JOB_ROWS): split the manifest")
        # Before any row is stored (a NUL: no PostgreSQL text keeps one; a line given twice: one record replaces
        # the other's).
        if problem := text_problem(request) or line_problem(request):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        if request.request_id:
            try:
                key = request_key(request.request_id)
            except ValueError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            request.request_id = key  # in place: a copy of a 32 MiB request costs 32 MiB more
        if not self._submissions.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{SUBMISSIONS_BUSY}: it takes {MAX_SUBMISSIONS} submissions at once, its limit; send this "
                          "one again in a moment")
        try:
            return self._start(request, context)
        finally:
            self._submissions.release()

    def _start(self, request: ingest_pb2.StartIngestRequest, context: grpc.ServicerContext
               ) -> ingest_pb2.StartIngestResponse:
        """StartIngest within its slot: the job stored, the manifest's stale rows forgotten."""
        try:
            checked = with_scores_checked(with_userinfo_hidden(request))
            # Hashed once for both looks below: a 32 MiB request took ~0.3 s a digest, and was hashed twice.
            digest = request_digest(checked) if checked.request_id else ""
            # A retry of a stored submission (its reply lost, its deadline passed): its job, and nothing run again.
            # Not even the forgetting of stale rows, which its first call did: a late retry would forget the rows
            # a newer run of the same manifest recorded. Looked up here, before start(), although start() looks
            # again in its transaction (for a replica that stored the key meanwhile): start() refuses all work
            # once this replica is stopping, and a retry is to be answered its job even then, without the rows
            # made ready for a job that is not stored.
            if (earlier := self.jobs.earlier(checked, digest)) is not None:
                return ingest_pb2.StartIngestResponse(job=earlier)
            # The same manifest run again while its job is unfinished (its `influencers run` killed): that job,
            # not a twin queued behind it that the user's run would wait for, and whose every row would fetch and
            # hash its file again to find it counted. Its stale rows were forgotten when it was queued.
            # Looked for again in start_or_resume's transaction, which two such submissions at once take one at a
            # time (this look spares the rows' preparation when it finds one).
            unfinished = self.jobs.unfinished(digest, checked.request_id) if request.resume_unfinished else None
            if unfinished is not None:
                return ingest_pb2.StartIngestResponse(job=unfinished, resumed=True)
            job, resumed = self.jobs.start_or_resume(checked, digest, request.resume_unfinished)
            if not resumed:
                forget_stale_rows(self.analytics, prepared(checked), self.timeout_s)
            return ingest_pb2.StartIngestResponse(job=job, resumed=resumed)
        except RequestIdReused as exc:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
            raise
        except QueueFull as exc:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
            raise
        except RuntimeError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise

    def GetJob(self, request: ingest_pb2.GetJobRequest, context: grpc.ServicerContext) -> ingest_pb2.GetJobResponse:
        _check_job_id(request.job_id, context)
        return ingest_pb2.GetJobResponse(job=_found(self.jobs.get(request.job_id), request.job_id, context))

    def WatchJob(self, request: ingest_pb2.WatchJobRequest, context: grpc.ServicerContext
                 ) -> Iterator[ingest_pb2.WatchJobResponse]:
        _check_job_id(request.job_id, context)
        if request.skip < 0:  # was read as 0: a caller's count gone wrong, replayed from the start unsaid
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"skip {request.skip} is negative")
        if not self._watchers.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{self.max_watchers} jobs are being watched on this replica, the limit; poll GetJob "
                          "or retry later")
        try:
            stream = self.jobs.watch(request.job_id, request.skip, context.is_active)
            yield from _found(stream, request.job_id, context)
        finally:
            self._watchers.release()

    def CancelJob(self, request: ingest_pb2.CancelJobRequest, context: grpc.ServicerContext
                  ) -> ingest_pb2.CancelJobResponse:
        _check_job_id(request.job_id, context)
        return ingest_pb2.CancelJobResponse(job=_found(self.jobs.cancel(request.job_id), request.job_id, context))

    def ListJobs(self, request: ingest_pb2.ListJobsRequest, context: grpc.ServicerContext
                 ) -> ingest_pb2.ListJobsResponse:
        return ingest_pb2.ListJobsResponse(jobs=self.jobs.list())


def _job_store_named(engine: sa.Engine, data_dir: Path) -> str:
    """The job store as a full disk's refusal says it: its SQLite file under the data dir (DATA/..., as every
    row's error writes the data dir), or its PostgreSQL database by name and host (never the URL's password)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"the ingest job store {data_dir_hidden(url.database or '', data_dir)}"
    return f"the ingest job store (PostgreSQL database {url.database} on {url.host})"


def _check_job_id(job_id: str, context: grpc.ServicerContext) -> None:
    """INVALID_ARGUMENT for no job id, or one holding a NUL character, before the job store reads it (PostgreSQL
    refuses one in any text); any other unknown id is NOT_FOUND (_found)."""
    if not job_id:  # was NOT_FOUND "no job ''", as if a job might have no id
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "job_id is empty: give the id StartIngest or ListJobs returned")
    if nul_field([("job_id", job_id)]):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"job_id holds a NUL character ({shown(job_id)})")


T = TypeVar("T")


def _found(value: T | None, job_id: str, context: grpc.ServicerContext) -> T:
    """`value` (a job, or its stream), or NOT_FOUND naming the job id when there is none."""
    if value is None:
        # Jobs live in SQL and survive restarts: an unknown id is a typo or another data dir's (database's) job.
        context.abort(grpc.StatusCode.NOT_FOUND, f"no job {shown(job_id)} in this queue (`influencers jobs` lists "
                                                 "its jobs)")
    return value


class IngestProcess:
    def __init__(self, settings: Settings, starting: StartingHealth | None = None) -> None:
        """`starting`: the health answer while the job queue is migrated, handed over to this server."""
        self.settings = settings
        credentials = channel_credentials(settings)
        self.identity_channel = open_channel(settings.identity_target, settings.token, credentials, service="ingest")
        self.analytics_channel = open_channel(settings.analytics_target, settings.token, credentials, service="ingest")
        identity = identity_pb2_grpc.IdentityServiceStub(self.identity_channel)
        analytics = analytics_pb2_grpc.AnalyticsServiceStub(self.analytics_channel)
        timeout = settings.rpc_timeout_s
        jobs_file = settings.data_dir / "ingest" / "jobs.sqlite3"
        if note := left_behind(settings.database_url, jobs_file, "the ingest job queue"):
            log.warning(note)
        self.engine = open_engine(database_url(settings.database_url, jobs_file))
        migrate(self.engine)
        self.pipeline = pipeline = VideoPipeline(settings, identity, analytics, RepostStore(self.engine))
        self.worker = settings.worker_name or socket.gethostname()  # its batches are tracked under this name
        store = JobStore(self.engine, settings.job_lease_s, settings.max_active_jobs)
        store.where = _job_store_named(self.engine, settings.data_dir)
        # On one machine, the leases of a process that died (a killed `run`) are taken at once, not waited out.
        self._holders = QueueHolders(sqlite_file(self.engine))
        if self._holders.alone and (freed := store.free_leases()):
            log.info("took back %d rows left running by a process that stopped", freed)
        self._holders.share()
        runner = SubmissionRunner(pipeline, GrpcIdentity(identity, timeout), GrpcAnalytics(analytics, timeout),
                                  analytics, self.worker, timeout, settings.job_feed_wait_s, store.live_video_ids,
                                  store.analysed_elsewhere)
        # One more video in flight than cores: decoding one while identity analyses the others.
        # A full disk of its own (the data dir's: the job store, the downloads, in `run` the face store too) or of
        # identity's (GetRoom) is watched while the job waits for room: it goes on, and is no longer said stalled,
        # once there is some.
        self.jobs = JobQueue(store, runner, new_owner(self.worker), threads=settings.worker_count + 1,
                             room=Room(settings.data_dir, settings.min_free_bytes, identity))
        # Rows of the jobs not ended (a grouped count over them): at most every few seconds, off the scrape.
        detach_rows = GAUGES.attach("influencers_job_rows", store.row_counts, max_age_s=JOB_ROWS_AGE_S)
        # A job that does not end, timed on its own: the row counts above sum every job's rows, so another job's
        # pending rows hid it (InfluencersJobNotEnding). Timed from the store, so a restart does not start it again.
        detach_finalising = GAUGES.attach("influencers_job_finalising_seconds", store.finalising_age,
                                          max_age_s=JOB_ROWS_AGE_S)

        def detach_gauges() -> None:
            detach_rows()
            detach_finalising()

        self._detach_gauges = detach_gauges
        self.servicer = IngestServicer(self.jobs, analytics, timeout, settings.max_job_rows)

        def register(server: grpc.Server) -> str:
            ingest_pb2_grpc.add_IngestServiceServicer_to_server(self.servicer, server)
            return ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

        if starting is not None:
            starting.handover()
        # Readiness follows the job queue's database, as analytics' follows its store (docs/operations.md).
        self.server: RunningServer = build_server("ingest", settings.host, settings.ingest_port, [register],
                                                  token=settings.token, max_workers=SERVER_THREADS,
                                                  credentials=server_credentials(settings), data_dir=settings.data_dir,
                                                  ready=self._database_ok)

    def _database_ok(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace_s: float = 10.0) -> None:
        """Takes no more rows; the rows running finish (for up to a minute; after that their leases expire
        and another replica takes them), then stops serving within `grace_s` seconds. Jobs go on elsewhere,
        or here after a restart."""
        self.server.drain()  # not ready from now on: the rows running may take a minute
        self._detach_gauges()
        self.jobs.stop()
        self.server.stop(grace_s)
        self.pipeline.close()  # its download folder
        self.engine.dispose()
        self._holders.close()
        self.identity_channel.close()
        self.analytics_channel.close()
