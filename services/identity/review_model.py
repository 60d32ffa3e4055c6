"""The "same person?" pair model, pure: the evidence two influencers give about being one person, and the
calibrated probability that they are, from a small logistic regression whose weights are a constant of the
package (review_weights.py, written by tools/fit_review_model.py; never fitted at run time).

The evidence is measured on the pair's two closest people (a person: one video's faces of one individual)
and on where the two influencers appear:
- face distances (Euclidean, 128-d encodings): the closest pair of faces, the median over all pairs of
  faces, and the share of pairs of faces under CLOSE;
- the two influencers as wholes: the median distance between the mean faces of their people (every person
  of one against every person of the other), and the share of those under PEOPLE_CLOSE; a true split is
  near as a whole, two look-alikes only at their closest people;
- face quality (quality.py's score in [0, 1]: size, sharpness, pose, detector margin), the worse side's mean:
  poor faces spread distances, so a distance means less on them;
- how many faces each side has (the lesser count): one face is weak evidence either way;
- one video, different shots: people of one video who are never in one frame (a look can change between
  shots, so two looks of one person in one video are split more often than across videos);
- together elsewhere: how many other videos show both as two people (a duo, not one person);
- seen in one frame: never one person. That one is a rule, not a weight: the probability is 0.

Nothing here knows anyone's identity: the weights are for faces in general."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from services.identity import review_weights

CLOSE = 0.6  # face_recognition's usual cut: a pair of faces under it "looks alike"
PEOPLE_CLOSE = 0.62  # the default clustering threshold, on two people's mean faces
MAX_PEOPLE = 256  # people of each side compared as wholes (the first by video id): bounded work for big ones


@dataclass(frozen=True)
class Evidence:
    """What one candidate pair shows. Distances are Euclidean between 128-d encodings; quality in [0, 1]."""

    d_min: float
    d_median: float
    close_share: float
    quality: float
    faces: int
    same_video: bool
    together_elsewhere: int
    same_frame: bool = False
    people_median: float = 0.0
    people_close: float = 0.0


FEATURES = ("d_min", "d_median", "close_share", "quality", "log_faces", "same_video", "log_together",
            "d_median_x_quality", "people_median", "people_close")


def evidence(a: np.ndarray, b: np.ndarray, quality_a: Sequence[float], quality_b: Sequence[float], *,
             same_video: bool = False, together_elsewhere: int = 0, same_frame: bool = False) -> Evidence:
    """The evidence of two people given their faces' encodings `a` (n, 128) and `b` (m, 128) and the faces'
    qualities, plus where the two influencers appear (see the module's docstring)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 128), np.asarray(b, np.float64).reshape(-1, 128)
    if not len(a) or not len(b):
        raise ValueError("evidence needs at least one face on each side")
    sq = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2 * a @ b.T
    d = np.sqrt(np.maximum(sq, 0.0)).ravel()
    quality = min(float(np.mean(quality_a)) if len(quality_a) else 0.0,
                  float(np.mean(quality_b)) if len(quality_b) else 0.0)
    return Evidence(float(d.min()), float(np.median(d)), float(np.mean(d < CLOSE)), quality,
                    min(len(a), len(b)), bool(same_video), int(together_elsewhere), bool(same_frame))


def as_wholes(e: Evidence, means_a: np.ndarray, means_b: np.ndarray) -> Evidence:
    """`e` with the two influencers compared as wholes, from their people's mean faces (k, 128) and (m, 128)
    (at most MAX_PEOPLE of each are used)."""
    a = np.asarray(means_a, np.float64).reshape(-1, 128)[:MAX_PEOPLE]
    b = np.asarray(means_b, np.float64).reshape(-1, 128)[:MAX_PEOPLE]
    sq = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2 * a @ b.T
    d = np.sqrt(np.maximum(sq, 0.0)).ravel()
    return dataclasses.replace(e, people_median=float(np.median(d)), people_close=float(np.mean(d < PEOPLE_CLOSE)))


def features(e: Evidence) -> np.ndarray:
    """The model's inputs, in FEATURES order."""
    return np.array([e.d_min, e.d_median, e.close_share, e.quality, math.log1p(e.faces), float(e.same_video),
                     math.log1p(e.together_elsewhere), e.d_median * e.quality, e.people_median, e.people_close],
                    np.float64)


def feature_matrix(rows: Sequence[Evidence]) -> np.ndarray:
    """(n, len(FEATURES)) inputs of many pairs."""
    return np.stack([features(e) for e in rows]) if rows else np.zeros((0, len(FEATURES)))


def probability(e: Evidence, weights: ModuleType | None = None) -> float:
    """The calibrated probability in [0, 1] that the pair is one person (0 when seen in one frame). `weights`:
    another weights module of review_weights' shape (benches score a model fitted without some people);
    by default the package's constant."""
    if e.same_frame:
        return 0.0
    w = weights or review_weights
    z = (features(e) - np.asarray(w.MEAN)) / np.asarray(w.SCALE)
    logit = float(z @ np.asarray(w.COEF)) + w.INTERCEPT
    return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))
