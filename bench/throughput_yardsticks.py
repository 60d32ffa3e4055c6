"""The two yardsticks our pipeline is held against.

- The decode floor: every frame of every video decoded with OpenCV, one process per core. No pipeline
  that looks at every frame (as cut detection must) can beat it.
- The naive approach: what a first script with face_recognition does, single process: every 5th frame at
  half size, HOG detection (face_recognition's default upsampling), an encoding per face, and each encoding
  matched greedily against every encoding seen before at face_recognition's usual 0.6.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from throughput_memory import PeakMemory

NAIVE_STRIDE = 5
NAIVE_SCALE = 0.5
NAIVE_TOLERANCE = 0.6


@dataclass
class FloorFigures:
    videos: int
    frames: int
    video_seconds: float
    processes: int
    wall_s: float
    peak_rss_bytes: int
    durations: dict[str, float] = field(default_factory=dict)  # seconds of video, by path

    def as_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "durations"}


@dataclass
class NaiveFigures:
    videos: list[str]
    video_seconds: float
    frames_analysed: int
    faces: int
    people: int
    wall_s: float
    estimated_corpus_wall_s: float  # wall_s scaled by the corpus's video seconds over the sample's


def decode_every_frame(path: str) -> tuple[str, int, float]:
    """Decodes every frame of `path` with OpenCV; returns (path, frames, seconds of video)."""
    capture = cv2.VideoCapture(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        frames = 0
        while capture.read()[0]:
            frames += 1
    finally:
        capture.release()
    return path, frames, frames / fps


def decode_floor(paths: list[Path]) -> FloorFigures:
    processes = os.cpu_count() or 1
    # spawn, not fork: the services' gRPC threads may still be winding down in this process.
    context = multiprocessing.get_context("spawn")
    with PeakMemory() as peak, context.Pool(processes) as pool:
        # Start (and import in) every worker before the clock starts.
        pool.map(time.sleep, [0.5] * processes, chunksize=1)
        t0 = time.perf_counter()
        decoded = pool.map(decode_every_frame, [str(p) for p in paths], chunksize=1)
        wall_s = time.perf_counter() - t0
    return FloorFigures(len(paths), sum(n for _, n, _ in decoded), sum(s for _, _, s in decoded), processes, wall_s,
                        peak.peak_bytes, {p: s for p, _, s in decoded})


def spread_sample(items: list[Path], n: int) -> list[Path]:
    """`n` items spread evenly over `items` (the middle of n equal slices): deterministic, covers the list."""
    n = min(n, len(items))
    return [items[(2 * i + 1) * len(items) // (2 * n)] for i in range(n)]


class GreedyMatcher:
    """Names each encoding after the nearest encoding seen before, when within `tolerance`; else a new
    person. Every encoding is kept and compared with, as a naive script does."""

    def __init__(self, tolerance: float = NAIVE_TOLERANCE) -> None:
        self.tolerance = tolerance
        self.known: list[np.ndarray] = []
        self.labels: list[int] = []
        self.people = 0

    def add(self, encoding: np.ndarray) -> int:
        label = self.people
        if self.known:
            distances = np.linalg.norm(np.array(self.known) - encoding, axis=1)
            nearest = int(np.argmin(distances))
            if distances[nearest] <= self.tolerance:
                label = self.labels[nearest]
        if label == self.people:
            self.people += 1
        self.known.append(encoding)
        self.labels.append(label)
        return label


def naive_video(api: ModuleType, path: Path, matcher: GreedyMatcher) -> tuple[int, int]:
    """Runs the naive approach on one video; returns (frames analysed, faces)."""
    capture = cv2.VideoCapture(str(path))
    analysed = faces = 0
    try:
        for index in itertools.count():
            ok, bgr = capture.read()
            if not ok:
                break
            if index % NAIVE_STRIDE:
                continue
            small = cv2.resize(bgr, None, fx=NAIVE_SCALE, fy=NAIVE_SCALE, interpolation=cv2.INTER_AREA)
            rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            boxes = api.face_locations(rgb, model="hog")
            for encoding in api.face_encodings(rgb, known_face_locations=boxes):
                matcher.add(encoding)
            analysed += 1
            faces += len(boxes)
    finally:
        capture.release()
    return analysed, faces


def _naive_run(paths: list[str]) -> tuple[float, int, int, int]:
    """The naive approach over `paths`, timed: (wall seconds, frames analysed, faces, people)."""
    # Imported here, before the clock: loading the dlib models takes seconds.
    import face_recognition

    matcher = GreedyMatcher()
    analysed = faces = 0
    t0 = time.perf_counter()
    for path in paths:
        a, f = naive_video(face_recognition, Path(path), matcher)
        analysed, faces = analysed + a, faces + f
    return time.perf_counter() - t0, analysed, faces, matcher.people


def naive_sample(sample: list[Path], durations: dict[str, float], corpus_seconds: float) -> NaiveFigures:
    """Runs the naive approach on `sample` in one process of its own, so that its models stay out of this
    process's memory, and scales its time to the corpus by seconds of video."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        wall_s, analysed, faces, people = pool.apply(_naive_run, ([str(p) for p in sample],))
    seconds = sum(durations[str(p)] for p in sample)
    estimate = wall_s * corpus_seconds / seconds if seconds else 0.0
    return NaiveFigures([p.name for p in sample], seconds, analysed, faces, people, wall_s, estimate)
