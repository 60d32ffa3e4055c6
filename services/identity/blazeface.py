"""Where faces are, fast: MediaPipe's BlazeFace (short-range model, 128 x 128 input) run by OpenCV's DNN.

It only says where to look. The pipeline then searches each place with dlib's HOG at the scale of the face
(as it does around a tracked face), so boxes, detector margins, landmarks and encodings stay those of HOG; a
place where HOG finds nothing gives nothing. On dev frames this finds every face HOG at 600 px finds, at about
a quarter of its time (bench/detector_eval.py).

The model file comes from the `mediapipe==0.10.14` wheel on PyPI (Apache-2.0), extracted at set-up (`make
setup`: requirements/models.txt, deploy/models.sh); nothing is downloaded at run time. A frame is searched as
squares of its short side along its long side (3 for 9:16, 1 for a square), each letterboxed to the input.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from services.identity.tracking import iou

INPUT = 128
THRESHOLD = 0.5  # the model's own operating point (MediaPipe's min_detection_confidence)
SAME_FACE_IOU = 0.3  # boxes overlapping more are one face (the higher score kept)

Box = tuple[float, float, float, float]  # top, right, bottom, left, in pixels of the frame


def anchors() -> np.ndarray:
    """The 896 SSD anchor centres (x, y in 0..1) of the short-range model: a 16 x 16 grid with 2 anchors a
    cell, then an 8 x 8 grid with 6 (strides 8 and 16 of the 128 px input), in the model's output order."""
    return np.array([((x + 0.5) / fm, (y + 0.5) / fm) for fm, n in ((16, 2), (8, 6))
                     for y in range(fm) for x in range(fm) for _ in range(n)], np.float32)


def decode(scores: np.ndarray, regressors: np.ndarray, side: float, offset: tuple[float, float],
           anchor: np.ndarray, threshold: float = THRESHOLD) -> list[tuple[Box, float]]:
    """Boxes of one forward pass: `scores` (896,) logits, `regressors` (896, 16) in input pixels (centre
    offset, width, height, then 6 key points we do not use), for a square of `side` px placed at `offset`
    (top, left) of the frame. Highest score first; overlapping boxes suppressed."""
    prob = 1.0 / (1.0 + np.exp(-np.clip(scores.astype(np.float64), -60.0, 60.0)))
    out: list[tuple[Box, float]] = []
    for i in sorted(np.flatnonzero(prob >= threshold), key=lambda k: -prob[k]):
        cx = (regressors[i, 0] / INPUT + anchor[i, 0]) * side
        cy = (regressors[i, 1] / INPUT + anchor[i, 1]) * side
        w, h = regressors[i, 2] / INPUT * side, regressors[i, 3] / INPUT * side
        if not (w > 0 and h > 0):
            continue
        box = (cy - h / 2 + offset[0], cx + w / 2 + offset[1], cy + h / 2 + offset[0], cx - w / 2 + offset[1])
        if all(iou(box, o) < SAME_FACE_IOU for o, _ in out):
            out.append((box, float(prob[i])))
    return out


def squares(height: int, width: int) -> list[tuple[int, int, int]]:
    """(top, left, side) of the squares a frame is searched in: its short side, along its long side, with
    overlap (first, middle, last)."""
    side, long = min(height, width), max(height, width)
    if long == side:
        return [(0, 0, side)]
    starts = sorted({0, (long - side) // 2, long - side})
    return [(s, 0, side) if height > width else (0, s, side) for s in starts]


class BlazeFace:
    """The model loaded from `path` (a .tflite file); one instance per process."""

    def __init__(self, path: Path) -> None:
        # The classic engine returns both named outputs from one forward pass (OpenCV 5's new engine gives
        # one a pass: twice the time).
        self.net = cv2.dnn.readNetFromTFLite(str(path), engine=cv2.dnn.ENGINE_CLASSIC)
        self.anchor = anchors()

    def locate(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        """Faces of an RGB uint8 frame of any shape, in its pixels, highest score first."""
        h, w = rgb.shape[:2]
        found: list[tuple[Box, float]] = []
        for top, left, side in squares(h, w):
            crop = rgb[top:top + side, left:left + side]
            x = cv2.resize(crop, (INPUT, INPUT), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0
            blob = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
            self.net.setInput(blob)
            scores, regressors = self.net.forward(["classificators", "regressors"])
            for box, score in decode(scores[0, :, 0], regressors[0], side, (top, left), self.anchor):
                if all(iou(box, o) < SAME_FACE_IOU for o, _ in found):
                    found.append((box, score))
        return sorted(found, key=lambda f: -f[1])
