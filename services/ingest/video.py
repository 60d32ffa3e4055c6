"""Video decoding with PyAV (FFmpeg): every frame is decoded (needed to see every cut), but only the
luma plane of each is looked at, and only sampled frames are converted to colour."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from services.ingest.sampling import ShotSampler

THUMB_CELLS = 48  # the luma thumbnail is about this many cells along the long side
MIN_SIDE = 32  # px: smaller frames hold no recognisable face


class VideoError(Exception):
    """A video that cannot be decoded; the message names the problem in words a user understands."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration_s: float
    codec: str


@dataclass
class SampledFrame:
    index: int
    timestamp_s: float
    shot: int
    bgr: np.ndarray
    span_s: float = 0.0


def probe(container: av.container.InputContainer, path: Path) -> VideoInfo:
    if not container.streams.video:
        raise VideoError("no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    else:
        duration = 0.0
    return VideoInfo(ctx.width, ctx.height, fps, duration, ctx.name)


def _luma_thumb(frame: av.VideoFrame) -> np.ndarray:
    plane = frame.planes[0]
    step = max(1, max(frame.width, frame.height) // THUMB_CELLS)
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return y[::step, : frame.width : step].astype(np.float32)


def open_video(path: Path, max_pixels: int = 4096 * 4096, max_seconds: float = 3600.0) -> tuple[
        av.container.InputContainer, VideoInfo]:
    try:
        container = av.open(str(path), mode="r", timeout=30.0)
    except (av.FFmpegError, OSError) as exc:
        reason = "invalid data" if isinstance(exc, av.error.InvalidDataError) else exc.__class__.__name__
        raise VideoError(f"not a readable video ({reason})") from exc
    try:
        info = probe(container, path)
    except VideoError:
        container.close()
        raise
    if min(info.width, info.height) < MIN_SIDE or info.width * info.height > max_pixels:
        container.close()
        raise VideoError(f"unsupported resolution {info.width}x{info.height}")
    if info.duration_s > max_seconds:
        container.close()
        raise VideoError(f"{info.duration_s:.0f} s is longer than the limit of {max_seconds:.0f} s")
    return container, info


def sample_frames(path: Path, sampler: ShotSampler, max_pixels: int = 4096 * 4096,
                  max_seconds: float = 3600.0) -> tuple[VideoInfo, Iterator[SampledFrame]]:
    """Opens `path` and returns its info and a lazy iterator of the sampled frames (BGR, full size).

    `span_s` of each sampled frame is the time until the next sampled frame (or the end). Raises
    VideoError (also from the iterator) when the file is not a decodable video.
    """
    container, info = open_video(path, max_pixels, max_seconds)

    def frames() -> Iterator[SampledFrame]:
        pending: SampledFrame | None = None
        decoded = 0
        last_t = 0.0
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            # Frames no other frame refers to (most B-frames) are skipped by the decoder: a third less work,
            # and cuts are still seen to within two frames.
            stream.codec_context.skip_frame = "NONREF"
            base = stream.start_time or 0
            tb = float(stream.time_base) if stream.time_base else 1.0 / max(info.fps, 1.0)
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else base + decoded
                t = max(0.0, (pts - base) * tb) if frame.pts is not None else decoded / max(info.fps, 1.0)
                decoded += 1
                last_t = t
                decision = sampler.feed(t, _luma_thumb(frame))
                if not decision.sample:
                    continue
                current = SampledFrame(decoded - 1, t, decision.shot, frame.to_ndarray(format="bgr24"))
                if pending is not None:
                    pending.span_s = t - pending.timestamp_s
                    yield pending
                pending = current
            if pending is not None:
                pending.span_s = max(1.0 / max(info.fps, 1.0), last_t - pending.timestamp_s + 1.0 / max(info.fps, 1.0))
                yield pending
        except av.FFmpegError as exc:
            if decoded == 0:
                raise VideoError(f"cannot decode ({exc})") from exc
            # A truncated file: what was decoded before the damage still counts.
            if pending is not None:
                pending.span_s = max(0.0, last_t - pending.timestamp_s)
                yield pending
        finally:
            container.close()
        if decoded == 0:
            raise VideoError("no decodable frames")

    return info, frames()
