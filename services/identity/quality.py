"""How good a face is for recognition and for showing: pure numpy on a crop and its landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_ENCODE_HEIGHT = 40  # px at full resolution; the encoder's 150 px chip is mostly blur below this
MIN_FRONTAL = 0.35
MIN_SHARPNESS = 0.08  # eye-region Laplacian variance of 25: a blurred face reads 0-10, a sharp one 70+


@dataclass(frozen=True)
class FaceQuality:
    height: float  # face box height, px at full resolution
    sharpness: float  # 0..1, Laplacian energy of the face at a fixed size
    frontal: float  # 0..1, 1 = nose centred between the eyes
    margin: float  # 0..1, detector score mapped
    score: float  # weighted sum, 0..1

    @property
    def encodable(self) -> bool:
        return self.height >= MIN_ENCODE_HEIGHT and self.frontal >= MIN_FRONTAL and self.sharpness >= MIN_SHARPNESS


def sharpness(gray: np.ndarray, points: np.ndarray) -> float:
    """Variance of the Laplacian of the eye region (from the landmarks, resized to 96x48), mapped to 0..1
    (1 at 300 and above). The eyes, not the whole box: a blurred background copy of a face with a sharp
    picture-in-picture inside its box must read as blurred."""
    eyes = points[:4]
    dist = float(np.linalg.norm(points[0:2].mean(axis=0) - points[2:4].mean(axis=0)))
    (x0, y0), (x1, y1) = eyes.min(axis=0) - 0.5 * dist, eyes.max(axis=0) + 0.5 * dist
    h, w = gray.shape
    patch = gray[max(0, int(y0)):min(h, int(y1)), max(0, int(x0)):min(w, int(x1))]
    if patch.shape[0] < 2 or patch.shape[1] < 2:
        return 0.0
    patch = cv2.resize(patch, (96, 48), interpolation=cv2.INTER_AREA)
    var = float(cv2.Laplacian(patch, cv2.CV_32F).var())
    return float(np.clip(var / 300.0, 0.0, 1.0))


def frontal(points: np.ndarray) -> float:
    """From dlib's 5 landmarks (eye corners 0-1 and 2-3, nose 4): how far the nose sits from the middle
    of the eyes, relative to eye distance. 1 is frontal, 0 is profile."""
    eye_a, eye_b, nose = points[0:2].mean(axis=0), points[2:4].mean(axis=0), points[4]
    eye_dist = float(np.linalg.norm(eye_a - eye_b))
    if eye_dist < 1e-6:
        return 0.0
    mid = (eye_a + eye_b) / 2
    axis = (eye_b - eye_a) / eye_dist
    offset = abs(float(np.dot(nose - mid, axis))) / eye_dist
    return float(np.clip(1.0 - 2.0 * offset, 0.0, 1.0))


def truncated(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """A box that touches the frame's edge holds a face cut off by it."""
    top, right, bottom, left = box
    return top <= 0 or left <= 0 or bottom >= shape[0] or right >= shape[1]


def assess(gray: np.ndarray, box: tuple[int, int, int, int], points: np.ndarray, det_score: float) -> FaceQuality:
    """Quality of the face in `box` (top, right, bottom, left) of the full-resolution gray frame."""
    height = float(box[2] - box[0])
    sharp = sharpness(gray, points)
    front = frontal(points)
    margin = float(np.clip((det_score + 0.2) / 1.5, 0.0, 1.0))
    size = float(np.clip((height - MIN_ENCODE_HEIGHT) / 160.0, 0.0, 1.0))
    score = 0.3 * size + 0.3 * sharp + 0.25 * front + 0.15 * margin
    if truncated(box, gray.shape):
        # Still recognisable (close-ups often lose the chin), but a poor picture to show.
        score *= 0.7
    return FaceQuality(height, sharp, front, margin, score)


def square_crop(image: np.ndarray, box: tuple[int, int, int, int], pad: float = 0.35, size: int = 192) -> np.ndarray:
    """Square crop around `box` (top, right, bottom, left) padded by `pad` of its size on each side,
    filled with edge pixels where it leaves the image, resized to `size`."""
    top, right, bottom, left = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = max(right - left, bottom - top) * (0.5 + pad)
    x0, y0, x1, y1 = int(cx - half), int(cy - half), int(cx + half), int(cy + half)
    h, w = image.shape[:2]
    inside = image[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]  # the box's centre is in the image
    crop = cv2.copyMakeBorder(inside, max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w),
                              cv2.BORDER_REPLICATE)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
