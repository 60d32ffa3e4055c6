"""IdentityService over gRPC: translates protos to calls of the registry and the face workers."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import grpc

from influencers.rpc import RunningServer, build_server
from influencers.settings import Settings
from influencers.v1 import common_pb2, identity_pb2, identity_pb2_grpc
from services.identity.analyzer import FrameIn
from services.identity.registry import AppearanceOut, IdentityRegistry
from services.identity.vectors import CollectionLayout, FaceIndex, open_client
from services.identity.workers import FaceWorkers

log = logging.getLogger(__name__)

MAX_FRAMES = 20_000  # frames in one AnalyzeVideo stream


def appearance_pb(a: AppearanceOut) -> common_pb2.Appearance:
    return common_pb2.Appearance(
        influencer_id=a.influencer_id, first_seen_s=a.first_seen_s, last_seen_s=a.last_seen_s, faces=a.faces,
        best_face=a.best_face, face_quality=a.face_quality, ambiguous=a.ambiguous, screen_time_s=a.screen_time_s)


def _changes_pb(changed: dict[str, list[AppearanceOut]], names: dict[str, str]) -> identity_pb2.ReclusterResponse:
    influencers = {a.influencer_id for apps in changed.values() for a in apps}
    return identity_pb2.ReclusterResponse(
        influencers=len(influencers), changed_videos=len(changed), names=names,
        videos=[common_pb2.VideoAppearances(video_id=v, appearances=[appearance_pb(a) for a in apps])
                for v, apps in changed.items()])


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, registry: IdentityRegistry, workers: FaceWorkers, settings: Settings) -> None:
        self.registry = registry
        self.workers = workers
        self.settings = settings

    def AnalyzeVideo(self, request_iterator: Iterator[identity_pb2.Frame], context: grpc.ServicerContext
                     ) -> identity_pb2.VideoIdentities:
        frames: list[FrameIn] = []
        video_id = ""
        for frame in request_iterator:
            if not video_id:
                video_id = frame.video_id
            elif frame.video_id != video_id:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "one AnalyzeVideo stream carries one video")
            if len(frames) >= MAX_FRAMES:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"more than {MAX_FRAMES} frames in one video")
            frames.append(FrameIn(frame.index, frame.timestamp_s, frame.shot, frame.span_s, frame.image))
        if not video_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no frames (video_id unknown)")
        analysis = self.workers.analyze(frames, self.settings.within_video_threshold)
        appearances = self.registry.assign(video_id, analysis)
        return identity_pb2.VideoIdentities(
            video_id=video_id, appearances=[appearance_pb(a) for a in appearances], frames=analysis.frames,
            faces_detected=analysis.faces_detected, faces_encoded=analysis.faces_encoded,
            stage_seconds=analysis.stage_seconds)

    def ForgetVideo(self, request: identity_pb2.ForgetVideoRequest, context: grpc.ServicerContext
                    ) -> identity_pb2.ForgetVideoResponse:
        return identity_pb2.ForgetVideoResponse(faces_removed=self.registry.forget(request.video_id))

    def ListVideoIds(self, request: identity_pb2.ListVideoIdsRequest, context: grpc.ServicerContext
                     ) -> identity_pb2.ListVideoIdsResponse:
        return identity_pb2.ListVideoIdsResponse(video_ids=sorted(self.registry.video_ids()))

    def _influencer_pb(self, info, with_face: bool) -> identity_pb2.Influencer:  # type: ignore[no-untyped-def]
        return identity_pb2.Influencer(
            influencer_id=info.influencer_id, name=info.name, videos=len(info.videos), faces=info.faces,
            representative_face=self.registry.crop_bytes(info.best_crop) if with_face else b"",
            face_quality=info.face_quality, video_ids=info.videos)

    def ListInfluencers(self, request: identity_pb2.ListInfluencersRequest, context: grpc.ServicerContext
                        ) -> identity_pb2.ListInfluencersResponse:
        return identity_pb2.ListInfluencersResponse(
            influencers=[self._influencer_pb(i, False) for i in self.registry.influencers()])

    def GetInfluencer(self, request: identity_pb2.GetInfluencerRequest, context: grpc.ServicerContext
                      ) -> identity_pb2.Influencer:
        for info in self.registry.influencers():
            if info.influencer_id == request.influencer_id:
                return self._influencer_pb(info, True)
        context.abort(grpc.StatusCode.NOT_FOUND, f"no influencer {request.influencer_id!r}")
        raise AssertionError  # abort raises

    def SearchFace(self, request: identity_pb2.SearchFaceRequest, context: grpc.ServicerContext
                   ) -> identity_pb2.SearchFaceResponse:
        try:
            encoding = self.workers.encode_largest(request.image)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if encoding is None:
            return identity_pb2.SearchFaceResponse(face_found=False)
        matches = self.registry.nearest(encoding, request.limit or 5)
        return identity_pb2.SearchFaceResponse(face_found=True, matches=[
            identity_pb2.FaceMatch(influencer_id=i, distance=d, within_threshold=d < self.settings.match_threshold)
            for i, d in matches])

    def Recluster(self, request: identity_pb2.ReclusterRequest, context: grpc.ServicerContext
                  ) -> identity_pb2.ReclusterResponse:
        if request.resync_only:
            changed = self.registry.all_appearances()
        else:
            changed = self.registry.recluster(list(request.video_ids) or None)
        return _changes_pb(changed, self.registry.index.names())

    def OpenBatch(self, request: identity_pb2.OpenBatchRequest, context: grpc.ServicerContext
                  ) -> identity_pb2.OpenBatchResponse:
        return identity_pb2.OpenBatchResponse(previous_interrupted=self.registry.open_batch(request.batch,
                                                                                     request.worker))

    def CloseBatch(self, request: identity_pb2.CloseBatchRequest, context: grpc.ServicerContext
                   ) -> identity_pb2.CloseBatchResponse:
        self.registry.close_batch(request.worker)
        return identity_pb2.CloseBatchResponse()

    def MergeInfluencers(self, request: identity_pb2.MergeInfluencersRequest, context: grpc.ServicerContext
                         ) -> identity_pb2.ReclusterResponse:
        try:
            changed = self.registry.merge(list(request.influencer_ids))
        except (KeyError, ValueError) as exc:
            context.abort(grpc.StatusCode.NOT_FOUND if isinstance(exc, KeyError) else
                          grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return _changes_pb(changed, self.registry.index.names())

    def SplitInfluencer(self, request: identity_pb2.SplitInfluencerRequest, context: grpc.ServicerContext
                        ) -> identity_pb2.ReclusterResponse:
        try:
            changed = self.registry.split(request.influencer_id, list(request.video_ids))
        except KeyError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return _changes_pb(changed, self.registry.index.names())

    def RenameInfluencer(self, request: identity_pb2.RenameInfluencerRequest, context: grpc.ServicerContext
                         ) -> identity_pb2.Influencer:
        try:
            self.registry.rename(request.influencer_id, request.name)
        except KeyError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return self.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=request.influencer_id), context)


class IdentityProcess:
    """Everything the identity service owns: the face store, the registry, the worker pool, the server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        client = open_client(settings.qdrant_url, settings.qdrant_api_key, settings.data_dir / "qdrant")
        layout = CollectionLayout(settings.qdrant_shards, settings.qdrant_replication, settings.qdrant_quantize)
        self.index = FaceIndex(client, settings.qdrant_collection, local=not settings.qdrant_url, layout=layout)
        self.index.ensure()
        self.index.warm()
        # A local store is ~10 Python objects per face, alive for the whole process: keep them out of the
        # garbage collector's full passes, whose cost would otherwise grow with the store.
        gc.freeze()
        self.registry = IdentityRegistry(self.index, settings.data_dir / "identity" / "crops",
                                         settings.match_threshold, settings.match_margin,
                                         settings.cluster_threshold)
        self.workers = FaceWorkers(settings.worker_count)
        servicer = IdentityServicer(self.registry, self.workers, settings)

        def register(server: grpc.Server) -> str:
            identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server)
            return identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name

        self.server: RunningServer = build_server("identity", settings.host, settings.identity_port, [register],
                                                  token=settings.token, max_workers=16)
        self.server.watch(self.index.healthy)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace_s: float = 10.0) -> None:
        self.server.stop(grace_s)
        self.workers.close()
        self.index.close()
