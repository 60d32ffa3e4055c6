"""One manifest row through the system: fetch, dedupe by URL and content, decode and sample, stream the
frames to identity, record the outcome with analytics. Every failure is recorded against its row."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import grpc

from influencers.settings import Settings
from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.ingest.fetch import FetchError, FetchPolicy, fetch
from services.ingest.sampling import ShotSampler
from services.ingest.video import VideoError, sample_frames

log = logging.getLogger(__name__)
JPEG_QUALITY = 90
ST = common_pb2


@dataclass
class Outcome:
    video: common_pb2.Video
    appearances: list[common_pb2.Appearance] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    recorded: bool = True


class InFlight:
    """Content ids being processed right now, so that two rows with the same bytes run once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def claim(self, video_id: str) -> threading.Event | None:
        """None: the caller owns `video_id` and must call release(); otherwise an event to wait on."""
        with self._lock:
            if video_id in self._events:
                return self._events[video_id]
            self._events[video_id] = threading.Event()
            return None

    def release(self, video_id: str) -> None:
        with self._lock:
            self._events.pop(video_id).set()


class VideoPipeline:
    def __init__(self, settings: Settings, identity: identity_pb2_grpc.IdentityServiceStub,
                 analytics: analytics_pb2_grpc.AnalyticsServiceStub) -> None:
        self.settings = settings
        self.identity = identity
        self.analytics = analytics
        self.in_flight = InFlight()
        self.timeout = settings.rpc_timeout_s
        root = Path(settings.allowed_root).resolve() if settings.allowed_root else None
        self.policy = FetchPolicy(settings.max_video_bytes, settings.fetch_timeout_s, settings.allow_private_urls,
                                  root)

    def _known(self, **key: str) -> common_pb2.Video | None:
        try:
            return self.analytics.GetVideo(common_pb2.GetVideoRequest(**key), timeout=self.timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def _record(self, video: common_pb2.Video, appearances: list[common_pb2.Appearance]) -> None:
        self.analytics.RecordVideo(analytics_pb2.RecordVideoRequest(video=video, appearances=appearances),
                                   timeout=self.timeout)

    def process(self, url: str, performance: float | None, external_id: str, row_error: str,
                base_dir: Path) -> Outcome:
        video = common_pb2.Video(url=url, external_id=external_id)
        if performance is not None:
            video.performance = performance
        try:
            return self._process(video, row_error, base_dir)
        except FetchError as exc:
            video.status, video.error = ST.VIDEO_STATUS_FAILED, str(exc)
        except VideoError as exc:
            video.status, video.error = ST.VIDEO_STATUS_FAILED, f"{url}: {exc}"
        except grpc.RpcError as exc:
            video.status = ST.VIDEO_STATUS_FAILED
            video.error = f"{url}: service call failed ({exc.code().name}: {exc.details()})"
        log.warning("video failed: %s", video.error)
        if not url:
            return Outcome(video, recorded=False)  # nothing to key a record on; the progress says why
        try:
            self._record(video, [])
        except grpc.RpcError as exc:
            video.error += f" (not recorded: {exc.code().name}: {exc.details()})"
            return Outcome(video, recorded=False)
        return Outcome(video)

    def _process(self, video: common_pb2.Video, row_error: str, base_dir: Path) -> Outcome:
        url = video.url
        if row_error:
            raise FetchError(f"{url or 'row'}: {row_error}")
        known = self._known(url=url)
        if known is not None and known.status in (ST.VIDEO_STATUS_DONE, ST.VIDEO_STATUS_DUPLICATE):
            # Already counted: a re-submitted manifest changes nothing but a changed score.
            if video.HasField("performance") and (
                    not known.HasField("performance") or abs(known.performance - video.performance) > 1e-12):
                self.analytics.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(
                    url=url, performance=video.performance), timeout=self.timeout)
                known.performance = video.performance
            return Outcome(known, recorded=False)
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        fetched = fetch(url, base_dir, self.policy)
        stages["fetch"] = time.perf_counter() - t0
        video.video_id = fetched.video_id
        try:
            while (wait := self.in_flight.claim(video.video_id)) is not None:
                wait.wait()
            try:
                same = self._known(video_id=video.video_id)
                if same is not None and same.status == ST.VIDEO_STATUS_DONE:
                    video.status = ST.VIDEO_STATUS_DUPLICATE
                    video.error = f"same video as {same.url}"
                    video.duration_s, video.faces = same.duration_s, same.faces
                    self._record(video, [])
                    return Outcome(video, stage_seconds=stages)
                return self._analyse(video, fetched.path, stages)
            finally:
                self.in_flight.release(video.video_id)
        finally:
            fetched.release()

    def _analyse(self, video: common_pb2.Video, path: Path, stages: dict[str, float]) -> Outcome:
        t0 = time.perf_counter()
        s = self.settings
        info, frames = sample_frames(path, ShotSampler(s.sample_interval_s), max_seconds=s.max_video_seconds)
        messages = list(_frame_messages(video.video_id, frames))
        stages["decode"] = time.perf_counter() - t0
        video.duration_s = info.duration_s
        t0 = time.perf_counter()
        result = self.identity.AnalyzeVideo(iter(messages), timeout=self.timeout)
        stages["identity"] = time.perf_counter() - t0
        for stage, secs in result.stage_seconds.items():
            stages[f"identity.{stage}"] = secs
        video.faces = result.faces_detected
        video.status = ST.VIDEO_STATUS_DONE
        appearances = list(result.appearances)
        t0 = time.perf_counter()
        self._record(video, appearances)
        stages["record"] = time.perf_counter() - t0
        return Outcome(video, appearances, stages)


def _frame_messages(video_id: str, frames: Iterator) -> Iterator[identity_pb2.Frame]:  # type: ignore[type-arg]
    for f in frames:
        ok, jpeg = cv2.imencode(".jpg", f.bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise VideoError(f"frame {f.index} could not be encoded")
        yield identity_pb2.Frame(video_id=video_id, index=f.index, timestamp_s=f.timestamp_s, image=jpeg.tobytes(),
                                 shot=f.shot, span_s=f.span_s)
