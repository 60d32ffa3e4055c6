"""IngestService over gRPC: runs submitted videos through the pipeline on a few worker threads and
streams one progress message per video; at the end of a batch, has identity re-derive its clusters and
analytics follow."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import grpc

from influencers.rpc import RunningServer, build_server, open_channel
from influencers.settings import Settings
from influencers.v1 import (
    analytics_pb2,
    analytics_pb2_grpc,
    common_pb2,
    identity_pb2,
    identity_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
)
from services.ingest.pipeline import Outcome, VideoPipeline

log = logging.getLogger(__name__)


def reconcile(identity: identity_pb2_grpc.IdentityServiceStub, analytics: analytics_pb2_grpc.AnalyticsServiceStub,
              timeout_s: float, video_ids: list[str] | None = None, resync: bool = False) -> int:
    """Re-derives identity clusters (of the whole store, or of the neighbourhood of `video_ids`) and has
    analytics record the videos whose people changed; with `resync`, re-derives nothing and sends every
    video. Returns the number of videos sent."""
    changes = identity.Recluster(identity_pb2.ReclusterRequest(video_ids=video_ids or [], resync_only=resync),
                                 timeout=timeout_s)
    send_changes(analytics, changes, timeout_s)
    return len(changes.videos)


def send_changes(analytics: analytics_pb2_grpc.AnalyticsServiceStub, changes: identity_pb2.ReclusterResponse,
                 timeout_s: float) -> None:
    analytics.ReplaceAppearances(analytics_pb2.ReplaceAppearancesRequest(
        videos=changes.videos, names={k: v for k, v in changes.names.items() if v}), timeout=timeout_s)


def repair(identity: identity_pb2_grpc.IdentityServiceStub, analytics: analytics_pb2_grpc.AnalyticsServiceStub,
           timeout_s: float) -> int:
    """Brings the two stores back in step after an interrupted run: faces of videos that analytics never
    recorded as done are removed, and analytics gets every video's appearances again. Returns the number
    of orphaned videos removed."""
    stored = set(identity.ListVideoIds(identity_pb2.ListVideoIdsRequest(), timeout=timeout_s).video_ids)
    done = {v.video_id for v in analytics.ListVideos(common_pb2.ListVideosRequest(
        statuses=[common_pb2.VIDEO_STATUS_DONE]), timeout=timeout_s).videos}
    orphans = sorted(stored - done)
    for video_id in orphans:
        identity.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id=video_id), timeout=timeout_s)
    reconcile(identity, analytics, timeout_s, resync=True)
    return len(orphans)


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, settings: Settings, pipeline: VideoPipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        # One more video in flight than cores: decoding one while identity analyses the others.
        self.pool = ThreadPoolExecutor(max_workers=settings.worker_count + 1, thread_name_prefix="ingest-video")
        self.batch_lock = threading.Lock()
        self.worker = settings.worker_name or socket.gethostname()

    def SubmitVideos(self, request: ingest_pb2.SubmitVideosRequest, context: grpc.ServicerContext
                     ) -> Iterator[ingest_pb2.IngestProgress]:
        # One batch at a time: re-clustering and repair look across videos.
        with self.batch_lock:
            yield from self._batch(request)

    def _batch(self, request: ingest_pb2.SubmitVideosRequest) -> Iterator[ingest_pb2.IngestProgress]:
        identity, analytics, timeout = self.pipeline.identity, self.pipeline.analytics, self.settings.rpc_timeout_s
        opened = identity.OpenBatch(identity_pb2.OpenBatchRequest(batch=uuid.uuid4().hex, worker=self.worker),
                                    timeout=timeout)
        if opened.previous_interrupted:
            orphans = repair(identity, analytics, timeout)
            log.warning("the previous batch was interrupted: re-synced, removed the faces of %d unrecorded "
                        "videos", orphans)
        base_dir = Path(request.base_dir or ".")
        total = len(request.videos)
        done = 0
        first_line: dict[str, int] = {}
        valid_urls = {sub.url for sub in request.videos if not sub.row_error}
        futures = {}
        for k, sub in enumerate(request.videos):
            if sub.row_error and sub.url in valid_urls:
                # A broken row for a URL that a good row of this batch gives: reported, not recorded.
                done += 1
                video = common_pb2.Video(url=sub.url, status=common_pb2.VIDEO_STATUS_FAILED, error=sub.row_error)
                yield ingest_pb2.IngestProgress(video=video, done=done, total=total)
                continue
            if sub.url and sub.url in first_line and not sub.row_error:
                done += 1
                video = common_pb2.Video(url=sub.url, status=common_pb2.VIDEO_STATUS_DUPLICATE,
                                         error=f"same URL as row {first_line[sub.url] + 1} of this submission")
                yield ingest_pb2.IngestProgress(video=video, done=done, total=total)
                continue
            first_line.setdefault(sub.url, k)
            perf = sub.performance if sub.HasField("performance") else None
            futures[self.pool.submit(self.pipeline.process, sub.url, perf, sub.external_id, sub.row_error,
                                     base_dir)] = k
        processed: list[str] = []
        for fut in as_completed(futures):
            outcome: Outcome = fut.result()
            done += 1
            if outcome.recorded and outcome.video.status == common_pb2.VIDEO_STATUS_DONE:
                processed.append(outcome.video.video_id)
            yield ingest_pb2.IngestProgress(video=outcome.video, appearances=outcome.appearances, done=done,
                                            total=total, stage_seconds=outcome.stage_seconds)
        if processed:
            changed = reconcile(identity, analytics, timeout, video_ids=processed)
            log.info("re-clustered around %d new videos: %d videos changed people", len(processed), changed)
        # Only a batch that got this far is complete; anything earlier leaves the batch open for repair.
        identity.CloseBatch(identity_pb2.CloseBatchRequest(worker=self.worker), timeout=timeout)

    def ListVideos(self, request: common_pb2.ListVideosRequest, context: grpc.ServicerContext
                   ) -> common_pb2.ListVideosResponse:
        return self.pipeline.analytics.ListVideos(request, timeout=self.settings.rpc_timeout_s)

    def GetVideo(self, request: common_pb2.GetVideoRequest, context: grpc.ServicerContext) -> common_pb2.Video:
        try:
            return self.pipeline.analytics.GetVideo(request, timeout=self.settings.rpc_timeout_s)
        except grpc.RpcError as exc:
            context.abort(exc.code(), exc.details() or "")
            raise


class IngestProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.identity_channel = open_channel(settings.identity_target, settings.token)
        self.analytics_channel = open_channel(settings.analytics_target, settings.token)
        pipeline = VideoPipeline(settings, identity_pb2_grpc.IdentityServiceStub(self.identity_channel),
                                 analytics_pb2_grpc.AnalyticsServiceStub(self.analytics_channel))
        self.servicer = IngestServicer(settings, pipeline)

        def register(server: grpc.Server) -> str:
            ingest_pb2_grpc.add_IngestServiceServicer_to_server(self.servicer, server)
            return ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

        self.server: RunningServer = build_server("ingest", settings.host, settings.ingest_port, [register],
                                                  token=settings.token)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace_s: float = 10.0) -> None:
        self.server.stop(grace_s)
        self.servicer.pool.shutdown(wait=True, cancel_futures=True)
        self.identity_channel.close()
        self.analytics_channel.close()
