"""Where to look for faces, shot by shot: a cheap coarse search first, finer searches and the CNN detector
only where the coarse one finds nothing worth encoding. Boxes are (top, right, bottom, left) in pixels of
the full-resolution frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from services.identity.faces import FaceModel, landmark_points
from services.identity.quality import FaceQuality, assess

COARSE_SHORT_SIDE = 360  # HOG finds faces of ~80 px in the searched image: ~160 px at 720p
FINE_SHORT_SIDE = 720  # ~80 px at 720p
FINE_MIN_FACE = 60  # px at full resolution: the finest HOG search still finds faces this small
CNN_SHORT_SIDE = 200  # the CNN fallback runs on frames this small: faces of ~160 px at 720p
BIG_AT_COARSE = 100  # px in the coarse image: a face this big is found there reliably

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Plan:
    """How a shot is searched: HOG (or the CNN detector) on the frame scaled by `scale`; `fallback`: when
    this finds nothing in a later frame, try the fine search too."""

    cnn: bool
    scale: float
    fallback: bool = True


@dataclass
class Detected:
    box: Box
    score: float
    shape: Any  # dlib full_object_detection (5 landmarks), needed again to encode the face
    quality: FaceQuality


def drop_containers(found: list[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """Drops a box that holds a much smaller face at its middle: a face printed or shown inside a larger
    blurred copy (posters, screens, picture-in-picture backgrounds) is one face, not two people."""
    keep = []
    for box, score in found:
        top, right, bottom, left = box
        nested = any(
            (b[2] - b[0]) < 0.6 * (bottom - top)
            and left < (b[1] + b[3]) / 2 < right and top < (b[0] + b[2]) / 2 < bottom
            for b, _ in found if b != box)
        if not nested:
            keep.append((box, score))
    return keep


class ShotDetector:
    """Finds the faces of one video's sampled frames, remembering per shot how it had to search.

    The first sample of a shot is searched at 720 px (a face inside a blurred copy of itself needs this to
    be told apart), then finer (faces of FINE_MIN_FACE px), then with the CNN detector on a small frame
    (turned or low-contrast faces HOG misses); the first search that finds a face fit to encode sets the
    shot's plan, coarse when every face was big. A shot where nothing finds one is searched coarsely.
    """

    def __init__(self, model: FaceModel) -> None:
        self.model = model
        self.plans: dict[int, Plan] = {}

    def detect(self, gray: np.ndarray, rgb: np.ndarray, shot: int) -> list[Detected]:
        short = min(gray.shape)
        coarse = Plan(False, min(1.0, COARSE_SHORT_SIDE / short))
        fine = Plan(False, min(1.0, FINE_SHORT_SIDE / short))
        plan = self.plans.get(shot)
        if plan is not None:
            found = self._search(gray, rgb, plan)
            if not found and plan.fallback and plan != fine:
                found = self._search(gray, rgb, fine)
            return found
        first: list[Detected] = []
        for plan in (fine, Plan(False, fine.scale * 80.0 / FINE_MIN_FACE), Plan(True, CNN_SHORT_SIDE / short)):
            found = self._search(gray, rgb, plan)
            first = first or found
            if any(d.quality.encodable for d in found):
                smallest = min(d.box[2] - d.box[0] for d in found)
                big = not plan.cnn and smallest * coarse.scale >= BIG_AT_COARSE
                self.plans[shot] = coarse if big else plan
                return found
        # Nothing to encode in this shot's first frame: later frames get the cheap search alone.
        self.plans[shot] = Plan(False, coarse.scale, fallback=False)
        return first

    def _search(self, gray: np.ndarray, rgb: np.ndarray, plan: Plan) -> list[Detected]:
        source = rgb if plan.cnn else gray
        if abs(plan.scale - 1.0) > 1e-3:
            interp = cv2.INTER_AREA if plan.scale < 1 else cv2.INTER_LINEAR
            small = cv2.resize(source, None, fx=plan.scale, fy=plan.scale, interpolation=interp)
        else:
            small = source
        h, w = gray.shape
        boxes = []
        for d in (self.model.detect_cnn(small) if plan.cnn else self.model.detect(small)):
            top, right, bottom, left = (int(round(v / plan.scale)) for v in d.box)
            boxes.append(((max(0, top), min(w, right), min(h, bottom), max(0, left)), d.score))
        out = []
        for box, score in drop_containers(boxes):
            shape = self.model.landmarks(rgb, box)
            out.append(Detected(box, score, shape, assess(gray, box, landmark_points(shape), score)))
        return out
