"""IngestService over gRPC: submitted catalogues become jobs (`jobs.JobQueue`) run one at a time by
`submission.SubmissionRunner`; the servicer only translates protos to queue calls and back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from services.common.boundary import shown
from services.common.rpc import RunningServer, build_server, open_channel
from services.common.settings import Settings
from services.ingest.batch_grpc import GrpcAnalytics, GrpcIdentity
from services.ingest.jobs import JobQueue
from services.ingest.pipeline import VideoPipeline
from services.ingest.submission import SubmissionRunner, with_scores_checked

# Watchers hold a server thread each for as long as they watch: room for several next to the short calls.
SERVER_THREADS = 16


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def StartIngest(self, request: ingest_pb2.StartIngestRequest, context: grpc.ServicerContext
                    ) -> ingest_pb2.StartIngestResponse:
        try:
            return ingest_pb2.StartIngestResponse(job=self.jobs.start(with_scores_checked(request)))
        except RuntimeError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise

    def GetJob(self, request: ingest_pb2.GetJobRequest, context: grpc.ServicerContext) -> ingest_pb2.GetJobResponse:
        return ingest_pb2.GetJobResponse(job=_found(self.jobs.get(request.job_id), request.job_id, context))

    def WatchJob(self, request: ingest_pb2.WatchJobRequest, context: grpc.ServicerContext
                 ) -> Iterator[ingest_pb2.WatchJobResponse]:
        stream = self.jobs.watch(request.job_id, request.skip, context.is_active)
        yield from _found(stream, request.job_id, context)

    def CancelJob(self, request: ingest_pb2.CancelJobRequest, context: grpc.ServicerContext
                  ) -> ingest_pb2.CancelJobResponse:
        return ingest_pb2.CancelJobResponse(job=_found(self.jobs.cancel(request.job_id), request.job_id, context))

    def ListJobs(self, request: ingest_pb2.ListJobsRequest, context: grpc.ServicerContext
                 ) -> ingest_pb2.ListJobsResponse:
        return ingest_pb2.ListJobsResponse(jobs=self.jobs.list())


def _found(value, job_id: str, context: grpc.ServicerContext):  # type: ignore[no-untyped-def]
    if value is None:
        context.abort(grpc.StatusCode.NOT_FOUND, f"no job {shown(job_id)} (unknown, or forgotten after a restart)")
    return value


class IngestProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.identity_channel = open_channel(settings.identity_target, settings.token)
        self.analytics_channel = open_channel(settings.analytics_target, settings.token)
        identity = identity_pb2_grpc.IdentityServiceStub(self.identity_channel)
        analytics = analytics_pb2_grpc.AnalyticsServiceStub(self.analytics_channel)
        timeout = settings.rpc_timeout_s
        self.pipeline = pipeline = VideoPipeline(settings, identity, analytics)
        # One more video in flight than cores: decoding one while identity analyses the others.
        in_flight = settings.worker_count + 1
        self.pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="ingest-video")
        self.worker = settings.worker_name or socket.gethostname()  # its batches are tracked under this name
        runner = SubmissionRunner(pipeline, self.pool, GrpcIdentity(identity, timeout),
                                  GrpcAnalytics(analytics, timeout), self.worker, in_flight)
        self.jobs = JobQueue(runner)
        self.servicer = IngestServicer(self.jobs)

        def register(server: grpc.Server) -> str:
            ingest_pb2_grpc.add_IngestServiceServicer_to_server(self.servicer, server)
            return ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

        self.server: RunningServer = build_server("ingest", settings.host, settings.ingest_port, [register],
                                                  token=settings.token, max_workers=SERVER_THREADS)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace_s: float = 10.0) -> None:
        """Cancels the jobs (the running one finishes its videos in flight, reconciles and closes its batch,
        for up to a minute), then stops serving within `grace_s` seconds."""
        self.jobs.stop()
        self.server.stop(grace_s)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pipeline.close()  # its download folder
        self.identity_channel.close()
        self.analytics_channel.close()
