"""Face analysis in worker processes (dlib holds the GIL; one process per core uses every core).
Each process loads its own face model on first use.

The workers never outlive the process that owns the pool: each asks the kernel for SIGKILL when its parent
dies (prctl PR_SET_PDEATHSIG) and also polls its parent id once a second, so a SIGKILLed `influencers run`
leaves no 260 MB orphans behind. A pool broken by a dead worker (the OOM killer, a crash in dlib) is rebuilt
and the call retried once; `healthy()` reports the break meanwhile.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import NamedTuple, TypeVar

import cv2
import numpy as np

from services.common.child import die_with_parent, stop_pool
from services.common.logs import LogSetup, adopt_setup, current_setup
from services.common.memory import give_back_free_memory
from services.common.metrics import count_child_restart
from services.common.settings import OPENCV_ENCODERS
from services.common.spool import SpoolReader
from services.common.stop_signal import uninterrupted
from services.identity.analyzer import FrameIn, VideoAnalysis, analyze_frames
from services.identity.blas_cores import ENV as BLAS_KERNELS_ENV
from services.identity.blas_cores import worker_kernels
from services.identity.faces import MAX_IMAGE_PIXELS, FaceModel, image_size
from services.identity.photos import decode_reduction, shrunk_size

log = logging.getLogger(__name__)

T = TypeVar("T")

_model: FaceModel | None = None  # one per worker process, set by _init


def _init(parent_pid: int, locator: str = "", log_setup: LogSetup | None = None, encoder: str = "dlib",
          encoder_model: str = "", blas_kernels: str = "", model_cache: str = "") -> None:
    global _model
    if blas_kernels:  # read by OpenBLAS as it loads, with dlib at the first face (blas_cores.py)
        os.environ[BLAS_KERNELS_ENV] = blas_kernels
    adopt_setup(log_setup)  # a spawned interpreter starts with Python's defaults: a warning would be raw text
    die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the parent decides when the workers stop (FaceWorkers.close).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _model = FaceModel(Path(locator) if locator else None, encoder, Path(encoder_model) if encoder_model else None,
                       Path(model_cache) if model_cache else None)
    cv2.setNumThreads(1)


def _ready() -> int:
    """The worker's pid, once its encoder is loaded (opencv's: ModelFileError here, at the pool's start, when its
    model file cannot be read; dlib's loads with its other models at the first face, as before)."""
    assert _model is not None
    if _model.encoder in OPENCV_ENCODERS:
        _model.load_encoder()
    return os.getpid()


def _analyze(frames: SpoolReader, within_video_threshold: float) -> VideoAnalysis:
    assert _model is not None
    try:
        return analyze_frames(_model, map(FrameIn.from_record, frames), within_video_threshold)
    finally:
        give_back_free_memory()  # the video's frames, chips and detector pyramids: freed now, returned too


_REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}


class LargestFace(NamedTuple):
    """A reference photo's largest face: its 128-d encoding (None: no face found), and how many faces the photo
    had (the others are left out, and the caller says so)."""

    encoding: np.ndarray | None
    faces: int


def _encode_largest(image: bytes, reduction: int) -> LargestFace:
    """The largest face of a photo, decoded at 1/`reduction` (a JPEG) and detected on the photo shrunk to
    photos.MAX_SIDE_PX (see photos.py), with the number of faces found."""
    assert _model is not None
    bgr = cv2.imdecode(np.frombuffer(image, np.uint8), _REDUCED_FLAGS[reduction])
    if bgr is None:
        raise ValueError("image is not a JPEG or PNG")
    size = shrunk_size(bgr.shape[1], bgr.shape[0])
    if size != (bgr.shape[1], bgr.shape[0]):
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    dets = _model.detect(rgb, upsample=1)
    if not dets:
        return LargestFace(None, 0)
    best = max(dets, key=lambda d: (d.box[2] - d.box[0]) * (d.box[1] - d.box[3]))
    return LargestFace(_model.encode(rgb, [_model.landmarks(rgb, best.box)])[0], len(dets))


def _is_broken(pool: ProcessPoolExecutor) -> bool:
    # The executor marks itself broken as soon as a worker dies; there is no public accessor for it.
    return bool(getattr(pool, "_broken", False))


class WorkerDied(RuntimeError):
    """A worker process died during one call, and again when the call was retried on a rebuilt pool: the
    input itself is the likely cause (the call fails; the other calls go on)."""


class FaceWorkers:
    """A pool of face-analysis processes.

    `max_pixels` caps the decoded size of every frame and image (read from its header before any decoding);
    a larger one raises ValueError naming its size."""

    def __init__(self, processes: int, max_pixels: int = MAX_IMAGE_PIXELS, locator: str = "",
                 encoder: str = "dlib", encoder_model: str = "", model_cache: str = "") -> None:
        """`locator`: BlazeFace's model file (settings.face_locator_model()), or "": none. `encoder`: who runs
        the face encoder, "dlib", "opencv" or "opencv-mirror" (the one the face store records: process.py), with
        the weights of `encoder_model` ("": face_recognition_models' file). ModelFileError naming the file when an
        OpenCV encoder cannot read it (each worker loads it as it starts). `model_cache`: a folder that keeps dlib's
        HOG detector once built (hog_detector.py), "": each worker builds it."""
        # One BLAS thread per worker: the workers already fill the cores, and oversubscribed BLAS threads
        # made the encoder 3x slower. Spawned children read this when they load dlib.
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.environ["OMP_NUM_THREADS"] = "1"
        # OpenBLAS's kernels for dlib's CNN where it does not know this CPU (blas_cores.py); not with dlib's encoder,
        # whose encodings they would move by ~1e-7 against those of a store it filled with the kernels of before.
        self.blas_kernels = worker_kernels() if encoder in OPENCV_ENCODERS else ""
        self._processes = processes
        self._locator = locator
        self._encoder = encoder
        self._encoder_model = encoder_model
        self._model_cache = model_cache
        self.max_pixels = max_pixels
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # A SIGTERM waits for the start (stop_signal): one that cut it would leave a half-made pool. It is raised
        # as the section closes, here: the pool made is then stopped as a refused one is.
        pool = None
        try:
            with uninterrupted():
                pool = ProcessPoolExecutor(max_workers=self._processes,
                                           mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                           initargs=(os.getpid(), self._locator, current_setup(), self._encoder,
                                                     self._encoder_model, self.blas_kernels, self._model_cache))
                # Start every worker now, from this thread: the parent-death signal follows the spawning thread,
                # and a worker spawned lazily by a short-lived thread would die with it.
                for future in [pool.submit(_ready) for _ in range(self._processes)]:
                    future.result()
        except BaseException:  # a model file the encoder cannot read (ModelFileError), or that stop: no pool left
            if pool is not None:
                stop_pool(pool)
                # Its manager thread ended too: left running, the interpreter's exit woke it through a pipe the
                # thread was closing ("OSError: Bad file descriptor" from concurrent.futures, ~1 start in 6).
                pool.shutdown(wait=True)
            raise
        return pool

    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return sorted(getattr(self._pool, "_processes", {}) or {})

    def healthy(self) -> bool:
        """False when the pool was found broken (a worker died); it is then rebuilt at once, so the next
        check is True again. For the readiness status of the identity service."""
        pool = self._pool
        if not _is_broken(pool):
            return True
        self._rebuild(pool)
        return False

    def check(self, frame: FrameIn) -> None:
        """ValueError naming the frame when it is not a JPEG/PNG or decodes to more than `max_pixels`: read
        from its header, before any process decodes it."""
        try:
            image_size(frame.image, self.max_pixels)
        except ValueError as exc:
            raise ValueError(f"frame {frame.index}: {exc}") from None

    def analyze(self, frames: SpoolReader, within_video_threshold: float) -> VideoAnalysis:
        """The people of one video, from its frames' records (FrameIn.record, each passed by `check`), which
        the worker reads one at a time."""
        return self._call(_analyze, frames, within_video_threshold)

    def encode_largest(self, image: bytes) -> LargestFace:
        """The largest face in a JPEG/PNG (its 128-d encoding, or None) and the number of faces found; ValueError
        for a bad or huge image."""
        width, height = image_size(image, self.max_pixels)
        reduction = decode_reduction(width, height) if image.startswith(b"\xff\xd8") else 1
        return self._call(_encode_largest, image, reduction)

    def _call(self, fn: Callable[..., T], *args: object) -> T:
        pool = self._pool
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            log.warning("face worker pool broken (a worker died); rebuilding it and retrying once")
            self._rebuild(pool)
        pool = self._pool
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            self._rebuild(pool)
            log.error("face worker pool broken again on the same call: the call fails (the pool is rebuilt)")
            raise WorkerDied("the face analysis process died on it twice (a crash in the face model, or the "
                             "kernel's OOM killer: the identity service's log and the kernel's say which)") from None

    def _rebuild(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not broken or self._closed:
                return  # another thread rebuilt it already, or we are shutting down
            stop_pool(broken)
            count_child_restart("face_worker", "crash")
            self._pool = self._new_pool()

    def close(self) -> None:
        """Stops the workers now: queued calls are cancelled, running ones end with their process."""
        with self._lock:
            self._closed = True
            stop_pool(self._pool)
