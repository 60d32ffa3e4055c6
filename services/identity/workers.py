"""Face analysis in worker processes (dlib holds the GIL; one process per core uses every core).
Each process loads its own face model on first use."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np

from services.identity.analyzer import FrameIn, VideoAnalysis, analyze_frames
from services.identity.faces import FaceModel

_model: FaceModel | None = None  # one per worker process, set by _init


def _init() -> None:
    global _model
    _model = FaceModel()
    cv2.setNumThreads(1)


def _analyze(frames: list[FrameIn], within_video_threshold: float) -> VideoAnalysis:
    assert _model is not None
    return analyze_frames(_model, frames, within_video_threshold)


def _encode_largest(image: bytes) -> np.ndarray | None:
    assert _model is not None
    bgr = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("image is not a JPEG or PNG")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    dets = _model.detect(rgb, upsample=1)
    if not dets:
        return None
    best = max(dets, key=lambda d: (d.box[2] - d.box[0]) * (d.box[1] - d.box[3]))
    return _model.encode(rgb, [_model.landmarks(rgb, best.box)])[0]


class FaceWorkers:
    """A pool of face-analysis processes."""

    def __init__(self, processes: int) -> None:
        # One BLAS thread per worker: the workers already fill the cores, and oversubscribed BLAS threads
        # made the encoder 3x slower. Spawned children read this when they load dlib.
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.environ["OMP_NUM_THREADS"] = "1"
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init)

    def analyze(self, frames: list[FrameIn], within_video_threshold: float) -> VideoAnalysis:
        return self._pool.submit(_analyze, frames, within_video_threshold).result()

    def encode_largest(self, image: bytes) -> np.ndarray | None:
        return self._pool.submit(_encode_largest, image).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
