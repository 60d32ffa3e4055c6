"""One video decoded into what the rest of ingest needs of it, in a decoder process (services/ingest/decoders.py):
its info, each sampled frame as its AnalyzeVideo message (the JPEG is what identity needs) in a spool handed
over to the caller, and the frames' times and prints for the repost check (4 KiB each). No frame is kept
whole; past `spool_memory_bytes` the spool is a file: a long video costs disk, not memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from influencers.v1 import identity_pb2
from services.common.memory import give_back_free_memory
from services.common.protoconv import duration
from services.common.spool import Spool, SpoolReader
from services.ingest.sampling import ShotSampler
from services.ingest.signature import MAX_FRAMES, frame_print
from services.ingest.video import SampledFrame, VideoError, VideoInfo, sample_frames

JPEG_QUALITY = 90


@dataclass(frozen=True)
class DecodeOrder:
    """What a decoder needs to decode one video (picklable: it crosses to the decoder process)."""

    video_id: str
    path: Path
    sample_interval_s: float
    max_seconds: float
    scratch: Path  # where a spool past `spool_memory_bytes`, or a pipe's copy, goes (ingest's scratch folder)
    spool_memory_bytes: int
    min_free_bytes: int
    prints: bool  # whether the repost check wants the frames' times and prints


@dataclass
class Decoded:
    info: VideoInfo
    frames: SpoolReader  # detached: the caller removes its file (spool.removed_after)
    times: list[float] = field(default_factory=list)
    prints: list[np.ndarray] = field(default_factory=list)


def decode(order: DecodeOrder) -> Decoded:
    """The video of `order`, decoded and sampled. Raises VideoError (not a decodable video) or SpoolError."""
    give_back_free_memory()  # the last video's frames and result (sent back after this function returned)
    with Spool(order.scratch, order.spool_memory_bytes, order.min_free_bytes) as spool:
        info, frames = sample_frames(order.path, ShotSampler(order.sample_interval_s), max_seconds=order.max_seconds,
                                     scratch=order.scratch, min_free_bytes=order.min_free_bytes)
        times, prints = [], []
        for f in frames:
            spool.append(frame_message(order.video_id, f).SerializeToString())
            if order.prints and len(prints) <= MAX_FRAMES:
                times.append(f.timestamp_s)
                prints.append(frame_print(f.bgr))
        return Decoded(info, spool.detach(), times, prints)


def frame_message(video_id: str, f: SampledFrame) -> identity_pb2.AnalyzeVideoRequest:
    ok, jpeg = cv2.imencode(".jpg", f.bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise VideoError(f"frame {f.index} could not be encoded")
    return identity_pb2.AnalyzeVideoRequest(video_id=video_id, index=f.index, timestamp=duration(f.timestamp_s),
                                            image=jpeg.tobytes(), shot=f.shot, span=duration(f.span_s))
