"""gRPC AnalyticsService: translates protos to store / analysis calls and back, nothing more."""

from __future__ import annotations

import grpc

from influencers.rpc import RunningServer, build_server
from influencers.settings import Settings
from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2
from services.analytics.analysis import AnalysisCache
from services.analytics.records import appearance_from_proto, video_from_proto, video_to_proto
from services.analytics.store import AnalyticsStore

SERVICE_NAME = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    """Statistics and the fitted model are cached and recomputed only after a write (store version)."""

    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store
        self._analysis = AnalysisCache(store)

    def RecordVideo(self, request, context):  # type: ignore[no-untyped-def]
        row = video_from_proto(request.video)
        appearances = [appearance_from_proto(row.video_id, a) for a in request.appearances]
        try:
            created = self._store.record_video(row, appearances)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return analytics_pb2.RecordVideoResponse(created=created)

    def ReplaceAppearances(self, request, context):  # type: ignore[no-untyped-def]
        updates = {
            u.video_id: [appearance_from_proto(u.video_id, a) for a in u.appearances] for u in request.videos
        }
        replaced = self._store.replace_appearances(updates, dict(request.names))
        return analytics_pb2.ReplaceAppearancesResponse(videos=replaced)

    def UpdatePerformance(self, request, context):  # type: ignore[no-untyped-def]
        changed = self._store.update_performance(request.url, request.performance)
        return analytics_pb2.RecordVideoResponse(created=changed)

    def GetVideo(self, request, context):  # type: ignore[no-untyped-def]
        key = request.WhichOneof("key")
        if key is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give a url or a video_id")
        row = self._store.get_video(**{key: getattr(request, key)})
        if row is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no video with {key} {getattr(request, key)!r}")
        return video_to_proto(row)

    def ListVideos(self, request, context):  # type: ignore[no-untyped-def]
        rows = self._store.list_videos(statuses=[int(s) for s in request.statuses])
        return common_pb2.ListVideosResponse(videos=[video_to_proto(r) for r in rows])

    def GetReport(self, request, context):  # type: ignore[no-untyped-def]
        analysis = self._analysis.current()
        stats = analysis.stats[analysis.stats["videos"] >= request.min_videos]
        fields = [f.name for f in analytics_pb2.InfluencerStats.DESCRIPTOR.fields]
        influencers = [
            analytics_pb2.InfluencerStats(**{k: v for k, v in row.items() if k in fields})
            for row in stats.astype(object).to_dict(orient="records")
        ]
        q = analysis.quality
        return analytics_pb2.Report(
            influencers=influencers,
            model=analytics_pb2.ModelQuality(
                mae=q.mae, r2=q.r2, baseline_mae=q.baseline_mae, baseline_r2=q.baseline_r2,
                folds=q.folds, videos=q.videos,
            ),
            videos=analysis.scored_videos,
            overall_mean=analysis.overall_mean,
        )

    def Predict(self, request, context):  # type: ignore[no-untyped-def]
        analysis = self._analysis.current()
        ids = list(request.influencer_ids)
        known = set(analysis.predictor.known(ids))
        return analytics_pb2.PredictResponse(
            performance=analysis.predictor.predict(ids),
            baseline=analysis.overall_mean,
            unknown_ids=[i for i in dict.fromkeys(ids) if i not in known],
        )


def serve_analytics(settings: Settings, store: AnalyticsStore) -> RunningServer:
    """Starts the analytics gRPC server on settings.host:settings.analytics_port (0 = any free port)."""

    def register(server: grpc.Server) -> str:
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(store), server)
        return SERVICE_NAME

    server = build_server("analytics", settings.host, settings.analytics_port, [register], token=settings.token)
    server.watch(lambda: store.version() is not None)
    return server
