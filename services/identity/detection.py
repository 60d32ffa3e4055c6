"""Where to look for faces, shot by shot: a cheap coarse search first, finer searches and the CNN detector
only where the coarse one finds nothing worth encoding. Boxes are (top, right, bottom, left) in pixels of
the full-resolution frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from services.common.stage_clock import StageClock
from services.identity.faces import FaceModel, landmark_points
from services.identity.quality import FaceQuality, assess
from services.identity.tracking import iou

COARSE_SHORT_SIDE = 360  # HOG finds faces of ~80 px in the searched image: ~160 px at 720p
FINE_SHORT_SIDE = 600  # faces from ~96 px at 720p; smaller ones only where nothing bigger is found
FINE_MIN_FACE = 60  # px in a 720p frame: the finest HOG search still finds faces this small
FINEST_SHORT_SIDE = 720 * 80 // FINE_MIN_FACE  # HOG's smallest face is ~80 px
CNN_SHORT_SIDE = 200  # the CNN fallback runs on frames this small: faces of ~160 px at 720p
BIG_AT_COARSE = 100  # px in the coarse image: a face this big is found there reliably
ROI_FACE = 100  # px: a face seen in the previous sample is looked for around its place, scaled to this size
ROI_MARGIN = 0.6  # of the face's size, on every side of its last box
FULL_EVERY = 3  # every third sample of a shot is searched whole, for faces that entered it

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

    The first sample of a shot is searched at 600 px (a face inside a blurred copy of itself needs this to
    be told apart), then finer (faces of FINE_MIN_FACE px), then with the CNN detector on a small frame
    (turned or low-contrast faces HOG misses); the first search that finds a face fit to encode sets the
    shot's plan, coarse when every face was big. A shot where nothing finds one is searched coarsely.
    """

    def __init__(self, model: FaceModel, clock: StageClock | None = None) -> None:
        """`clock`: where the search's time goes by kind ("detect.coarse", "detect.fine", "detect.finest",
        "detect.cnn", "detect.track", "detect.fallback" (the fine search after a plan's search found nothing),
        "detect.locate" and "detect.around" (BlazeFace, then HOG where it saw faces), "detect.landmarks";
        stage_clock.py); a clock of its own when none is given."""
        self.model = model
        self.clock = clock if clock is not None else StageClock()
        self.plans: dict[int, Plan] = {}
        self.samples: dict[int, int] = {}
        self.last: dict[int, list[Box]] = {}

    def detect(self, gray: np.ndarray, rgb: np.ndarray, shot: int) -> list[Detected]:
        found = self._detect(gray, rgb, shot)
        self.last[shot] = [d.box for d in found]
        self.samples[shot] = self.samples.get(shot, 0) + 1
        return found

    def _detect(self, gray: np.ndarray, rgb: np.ndarray, shot: int) -> list[Detected]:
        short = min(gray.shape)
        coarse = Plan(False, min(1.0, COARSE_SHORT_SIDE / short))
        fine = Plan(False, min(1.0, FINE_SHORT_SIDE / short))
        plan = self.plans.get(shot)
        if plan is not None:
            last = self.last.get(shot, [])
            if last and self.samples[shot] % FULL_EVERY:
                # Faces of still shots and talking heads stay near where they were a second ago.
                tracked = self._track(gray, rgb, last)
                if len(tracked) >= len(last):
                    return tracked
            found = self._search(gray, rgb, plan)
            if not found and plan.fallback and plan != fine:
                found = self._search(gray, rgb, fine, "fallback")
            return found
        first: list[Detected] = []
        for plan in (fine, Plan(False, FINEST_SHORT_SIDE / short), Plan(True, CNN_SHORT_SIDE / short)):
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

    def _search(self, gray: np.ndarray, rgb: np.ndarray, plan: Plan, kind: str = "") -> list[Detected]:
        h, w = gray.shape
        short = min(h, w)
        kind = kind or ("cnn" if plan.cnn else "coarse" if plan.scale * short <= COARSE_SHORT_SIDE + 1
                else "fine" if plan.scale * short <= FINE_SHORT_SIDE + 1 else "finest")
        if kind in ("coarse", "fine") and self.model.can_locate:
            # BlazeFace says where faces are; HOG then searches each place at the face's scale (its boxes
            # and margins, hence today's encodings), for a quarter of a 600 px search's time.
            with self.clock.timing("detect.locate"):
                located = self.model.locate(rgb)
            return self._around(gray, rgb, located, "around")
        return self._judge(gray, rgb, self._boxes(rgb if plan.cnn else gray, (0, w, h, 0), plan, kind))

    def _track(self, gray: np.ndarray, rgb: np.ndarray, last: list[Box]) -> list[Detected]:
        return self._around(gray, rgb, last, "track")

    def _around(self, gray: np.ndarray, rgb: np.ndarray, last: list[Box], kind: str) -> list[Detected]:
        """HOG around each of `last` (boxes of a previous frame, or where BlazeFace saw faces), at the
        scale that makes the face ROI_FACE px."""
        h, w = gray.shape
        boxes: list[tuple[Box, float]] = []
        for top, right, bottom, left in last:
            size = max(bottom - top, right - left)
            pad = int(size * ROI_MARGIN)
            region = (max(0, top - pad), min(w, right + pad), min(h, bottom + pad), max(0, left - pad))
            found = self._boxes(gray, region, Plan(False, min(2.0, ROI_FACE / max(1, bottom - top))), kind)
            boxes += [(b, s) for b, s in found if not any(iou(b, o) > 0.5 for o, _ in boxes)]
        return self._judge(gray, rgb, boxes)

    def _boxes(self, image: np.ndarray, region: Box, plan: Plan, kind: str) -> list[tuple[Box, float]]:
        """Detections in `region` (top, right, bottom, left) of `image`, searched at `plan.scale`, as boxes
        of the full frame; the time goes to "detect.`kind`"."""
        with self.clock.timing(f"detect.{kind}"):
            top, right, bottom, left = region
            source = image[top:bottom, left:right]
            if source.size == 0:
                return []
            if abs(plan.scale - 1.0) > 1e-3:
                interp = cv2.INTER_AREA if plan.scale < 1 else cv2.INTER_LINEAR
                source = cv2.resize(source, None, fx=plan.scale, fy=plan.scale, interpolation=interp)
            h, w = image.shape[:2]
            out = []
            for d in (self.model.detect_cnn(source) if plan.cnn else self.model.detect(source)):
                t, r, b, lft = (int(round(v / plan.scale)) for v in d.box)
                out.append(((max(0, t + top), min(w, r + left), min(h, b + top), max(0, lft + left)), d.score))
            return out

    def _judge(self, gray: np.ndarray, rgb: np.ndarray, boxes: list[tuple[Box, float]]) -> list[Detected]:
        out = []
        with self.clock.timing("detect.landmarks"):
            for box, score in drop_containers(boxes):
                shape = self.model.landmarks(rgb, box)
                out.append(Detected(box, score, shape, assess(gray, box, landmark_points(shape), score)))
        return out
