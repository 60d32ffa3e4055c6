"""gRPC AnalyticsService: translates protos to store / analysis calls and back, nothing more.

Status codes: a malformed argument (an id out of pattern, a score outside the score rule of
services/common/scores.py, a lookup without a key) is INVALID_ARGUMENT;
a well-formed id or row that is not stored is NOT_FOUND.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2
from services.analytics.analysis import AnalysisCache
from services.analytics.records import (
    video_from_proto,
    video_to_proto,
)
from services.analytics.store import AnalyticsStore
from services.common import logs, tracing
from services.common.boundary import (
    MAX_LOCATION_CHARS,
    MAX_TEXT_CHARS,
    MAX_URL_CHARS,
    brief,
    capped,
    is_video_id,
    long_field,
    nul_field,
    shown,
    undefined_enum_values,
)
from services.common.paging import decode_token, encode_token, items_within, page_size
from services.common.protoconv import duration, duration_problem
from services.common.rpc import RunningServer, build_server
from services.common.scores import score_problem
from services.common.settings import Settings
from services.common.tls import server_credentials

SERVICE_NAME = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name

# The most characters of each text of a row kept as given (boundary.py says why these; a row's error is cut
# instead, not refused: RecordVideo).
TEXT_LIMITS = {"url": MAX_URL_CHARS, "location": MAX_LOCATION_CHARS, "external_id": MAX_TEXT_CHARS}

MAX_WAIT_S = 60.0  # WaitForFeedPosition's longest wait; a caller wanting more calls again
POLL_S = 0.05  # seconds between two reads of the applied position while waiting
# Waiters each hold a server thread for up to MAX_WAIT_S: at most this many at once, so that the other threads
# (of build_server's 8) always answer health, RecordVideo and the page's reads. Past it: RESOURCE_EXHAUSTED,
# which GrpcAnalytics.wait_for_position retries until its own deadline.
MAX_WAITERS = 4


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    """Statistics and the fitted model are cached and recomputed only after a write (store version)."""

    def __init__(self, store: AnalyticsStore, head: Callable[[], int] = lambda: 0) -> None:
        """`head`: the head of identity's feed as this replica's follower last saw it (0: not following)."""
        self._store = store
        self._analysis = AnalysisCache(store)
        self._head = head
        self._waiters = threading.BoundedSemaphore(MAX_WAITERS)

    def RecordVideo(self, request: analytics_pb2.RecordVideoRequest, context: grpc.ServicerContext
                    ) -> analytics_pb2.RecordVideoResponse:
        _check_video_fields(context, request.video)
        # A failed row's error past MAX_TEXT_CHARS is cut, saying so, not refused: the row is then recorded
        # (its URL, status and score), where a refusal would lose the video's record.
        row = dataclasses.replace(video_from_proto(request.video), error=capped(request.video.error))
        if row.video_id:  # every line of the call names it, the failure's line of rpc.py's guard too (see identity's)
            logs.bind(video_id=row.video_id)
        if problem := score_problem(row.performance):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{row.url[:80]!r}: {problem}")
        _check_statuses(context, [row.status], "video.status")
        # Appearances come from identity's change feed alone, never with the row.
        try:
            # A row that failed before its content was hashed has no id: no attribute then, not an empty one.
            with tracing.tracer("analytics").start_as_current_span(
                    "record", attributes={"influencers.video_id": row.video_id} if row.video_id else None):
                created = self._store.record_video(row)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, brief(str(exc)))
        return analytics_pb2.RecordVideoResponse(created=created)

    def ReplaceAppearances(self, request: analytics_pb2.ReplaceAppearancesRequest, context: grpc.ServicerContext
                           ) -> analytics_pb2.ReplaceAppearancesResponse:
        # Identity owns "who is in which video": appearances written here, beside its feed, would be
        # overwritten by the next change, or bring back an erased person. Kept in the contract (an RPC is
        # never removed from a published service), refused for every caller.
        context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                      "appearances come from identity's change feed only: correct identity (IdentityService) "
                      "and analytics follows")

    def UpdatePerformance(self, request: analytics_pb2.UpdatePerformanceRequest, context: grpc.ServicerContext
                          ) -> analytics_pb2.UpdatePerformanceResponse:
        key = request.location or request.url
        if not key:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give the row's location or url")
        if name := nul_field((("location", request.location), ("url", request.url))):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} holds a NUL character ({shown(key)})")
        if problem := long_field((f, getattr(request, f), TEXT_LIMITS[f]) for f in ("location", "url")):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{shown(key)}: {problem}")
        if problem := score_problem(request.performance):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{key[:80]!r}: {problem}")
        try:
            changed = self._store.update_performance(key, request.performance)
        except KeyError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no video recorded at {shown(key)}")
        return analytics_pb2.UpdatePerformanceResponse(changed=changed)

    def ForgetManifestRows(self, request: analytics_pb2.ForgetManifestRowsRequest, context: grpc.ServicerContext
                           ) -> analytics_pb2.ForgetManifestRowsResponse:
        fields = [("base_dir", request.base_dir), ("manifest", request.manifest)] + [("kept", k) for k in request.kept]
        if name := nul_field(fields):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} holds a NUL character")
        if problem := long_field((name, value, MAX_LOCATION_CHARS) for name, value in fields):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        forgotten = self._store.forget_manifest_rows(request.base_dir, request.manifest, request.kept)
        return analytics_pb2.ForgetManifestRowsResponse(forgotten=forgotten)

    def GetVideo(self, request: analytics_pb2.GetVideoRequest, context: grpc.ServicerContext
                 ) -> analytics_pb2.GetVideoResponse:
        key = request.WhichOneof("key")
        value = getattr(request, key) if key else ""
        if not value:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give a url, a location or a video_id")
        if key == "video_id":
            _check_video_id(context, value)
        if nul_field([(key, value)]):  # no row has one: the store cannot even look it up
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{key} holds a NUL character ({shown(value)})")
        if key in TEXT_LIMITS and (problem := long_field([(key, value, TEXT_LIMITS[key])])):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{shown(value)}: {problem}")
        row = self._store.get_video(**{key: value})
        if row is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no video with {key} {shown(value)}")
        return analytics_pb2.GetVideoResponse(video=video_to_proto(row))

    def ListVideos(self, request: analytics_pb2.ListVideosRequest, context: grpc.ServicerContext
                   ) -> analytics_pb2.ListVideosResponse:
        _check_statuses(context, list(request.statuses), "statuses")
        try:
            limit, after = page_size(request.page_size), decode_token(request.page_token)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        statuses = [int(s) for s in request.statuses]
        rows, last = self._store.list_videos_page(statuses, after=after, limit=limit)
        videos = [video_to_proto(r) for r in rows]
        if (fit := items_within(videos)) < len(videos):  # the same page, ending at the last row that fits
            rows, last = self._store.list_videos_page(statuses, after=after, limit=fit)
            videos = videos[:fit]
        return analytics_pb2.ListVideosResponse(videos=videos, next_page_token=encode_token(last) if last else "")

    def GetReport(self, request: analytics_pb2.GetReportRequest, context: grpc.ServicerContext
                  ) -> analytics_pb2.GetReportResponse:
        if request.min_videos < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"min_videos {request.min_videos} is negative")
        analysis = self._analysis.current()
        stats = analysis.stats[analysis.stats["videos"] >= request.min_videos]
        fields = [f.name for f in analytics_pb2.InfluencerStats.DESCRIPTOR.fields]
        influencers = [
            analytics_pb2.InfluencerStats(**{k: v for k, v in row.items() if k in fields},
                                          screen_time=duration(row["screen_time_s"]))
            for row in stats.astype(object).to_dict(orient="records")
        ]
        q = analysis.quality
        return analytics_pb2.GetReportResponse(
            influencers=influencers,
            model=analytics_pb2.ModelQuality(
                mae=q.mae, r2=q.r2, baseline_mae=q.baseline_mae, baseline_r2=q.baseline_r2,
                folds=q.folds, videos=q.videos, residual_low=q.residual_low, residual_high=q.residual_high,
                interval_level=q.interval_level,
            ),
            videos=analysis.scored_videos,
            overall_mean=analysis.overall_mean,
        )

    def GetFeedPosition(self, request: analytics_pb2.GetFeedPositionRequest, context: grpc.ServicerContext
                        ) -> analytics_pb2.GetFeedPositionResponse:
        return analytics_pb2.GetFeedPositionResponse(applied_position=self._store.feed_position(),
                                                     head_position=self._head())

    def WaitForFeedPosition(self, request: analytics_pb2.WaitForFeedPositionRequest, context: grpc.ServicerContext
                            ) -> analytics_pb2.WaitForFeedPositionResponse:
        if request.position < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"position {request.position} is negative")
        if problem := duration_problem("timeout", request.timeout):  # mixed signs too: no time at all
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        timeout = request.timeout.seconds + request.timeout.nanos / 1e9
        applied = self._store.feed_position()
        if applied >= request.position:
            return analytics_pb2.WaitForFeedPositionResponse(reached=True, applied_position=applied)
        if not self._waiters.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{MAX_WAITERS} callers are already waiting for the feed here, the limit; retry")
        try:
            deadline = time.monotonic() + min(timeout, MAX_WAIT_S)
            while True:
                applied = self._store.feed_position()
                if applied >= request.position:
                    return analytics_pb2.WaitForFeedPositionResponse(reached=True, applied_position=applied)
                if time.monotonic() >= deadline or not context.is_active():
                    return analytics_pb2.WaitForFeedPositionResponse(reached=False, applied_position=applied)
                time.sleep(POLL_S)
        finally:
            self._waiters.release()


def _check_video_id(context: grpc.ServicerContext, video_id: str) -> None:
    if not is_video_id(video_id):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"video_id {shown(video_id)} is not 16 lowercase hex digits")


def _check_video_fields(context: grpc.ServicerContext, video: common_pb2.Video) -> None:
    """INVALID_ARGUMENT naming the field of a row that no store keeps or no video has: a NUL character in a text, no
    outcome, a length or start that is no valid Duration of at least 0 (the stubs let a negative one through, signs
    mixed, nanos of a second or more, or one past 10,000 years), fewer than 0 faces; a url, location or external_id
    longer than TEXT_LIMITS."""
    if name := nul_field((f"video.{f}", getattr(video, f)) for f in ("url", "location", "error", "external_id")):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{shown(video.url)}: {name} holds a NUL character")
    if problem := long_field((f"video.{f}", getattr(video, f), limit) for f, limit in TEXT_LIMITS.items()):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{shown(video.url)}: {problem}")
    if video.status == common_pb2.VIDEO_STATUS_UNSPECIFIED:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"{shown(video.url)}: video.status is unset (VIDEO_STATUS_UNSPECIFIED): give the row's outcome")
    for field in ("duration", "start"):
        if problem := duration_problem(f"video.{field}", getattr(video, field)):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{shown(video.url)}: {problem}")
    if video.faces < 0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{shown(video.url)}: video.faces {video.faces} is negative")


def _check_statuses(context: grpc.ServicerContext, statuses: list[int], what: str) -> None:
    """INVALID_ARGUMENT for a number that no VideoStatus stands for (proto3 lets -1 through)."""
    if bad := undefined_enum_values(statuses, common_pb2.VideoStatus.values()):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what}: {bad[0]} is not a VideoStatus")


def serve_analytics(settings: Settings, store: AnalyticsStore, head: Callable[[], int] = lambda: 0
                    ) -> RunningServer:
    """Starts the analytics gRPC server on settings.host:settings.analytics_port (0 = any free port); `head`:
    see AnalyticsServicer."""

    def register(server: grpc.Server) -> str:
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(store, head), server)
        return SERVICE_NAME

    server = build_server("analytics", settings.host, settings.analytics_port, [register], token=settings.token,
                          credentials=server_credentials(settings), data_dir=settings.data_dir,
                          ready=lambda: store.version() is not None)
    return server

