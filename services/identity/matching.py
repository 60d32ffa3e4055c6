"""Assigning the people of a video to influencers, and re-deriving clusters: pure numpy.

Distances are Euclidean between 128-d face encodings. A person is compared with an influencer by the
median, over the person's encoded faces, of the distance to the influencer's nearest stored face: robust
to one odd face on either side, and independent of which face founded the influencer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from services.identity.linkage import average_linkage


@dataclass(frozen=True)
class Decision:
    influencer_id: str | None  # None: a new influencer
    distance: float
    ambiguous: bool


def influencer_distances(neighbours: list[list[tuple[str, float]]]) -> dict[str, float]:
    """`neighbours[i]`: (influencer_id, distance) of the stored faces nearest to the i-th encoded face of
    one person, nearest first. Returns the median over faces of the nearest distance to each
    influencer (a face whose neighbours miss an influencer counts the farthest distance it saw)."""
    per_face: list[dict[str, float]] = []
    ceiling = 0.0
    for hits in neighbours:
        nearest: dict[str, float] = {}
        for inf, d in hits:
            if inf:  # faces of unconfirmed people are nobody's yet
                nearest.setdefault(inf, d)
            ceiling = max(ceiling, d)
        per_face.append(nearest)
    candidates = {inf for nearest in per_face for inf in nearest}
    fallback = [max(ceiling, max(nearest.values(), default=ceiling)) for nearest in per_face]
    return {inf: _median([nearest.get(inf, far) for nearest, far in zip(per_face, fallback, strict=True)])
            for inf in candidates}


def _median(values: list[float]) -> float:
    """As numpy's median (the mean of the middle two of an even count), without an array for a few values."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else float((ordered[mid - 1] + ordered[mid]) / 2)


def decide(distances: dict[str, float], threshold: float, margin: float, forbidden: set[str]) -> Decision:
    """Nearest allowed influencer under `threshold`; flagged ambiguous when a second one is also under
    the threshold and within `margin` of the first. `forbidden`: influencers already given to a person
    seen in the same frame of this video."""
    ranked = sorted((d, inf) for inf, d in distances.items() if inf not in forbidden)
    if not ranked or ranked[0][0] >= threshold:
        return Decision(None, ranked[0][0] if ranked else float("inf"), False)
    d1, best = ranked[0]
    ambiguous = len(ranked) > 1 and ranked[1][0] < threshold and ranked[1][0] - d1 < margin
    return Decision(best, d1, ambiguous)


def new_influencer_id(video_id: str, person: int) -> str:
    """Deterministic id of an influencer founded by `person` of `video_id`: the same founder always gets
    the same id, so a retried or concurrent creation is idempotent."""
    return "inf_" + hashlib.sha1(f"{video_id}:{person}".encode()).hexdigest()[:10]


def person_distances(people: list[np.ndarray]) -> np.ndarray:
    """(m, m) mean Euclidean distance over all pairs of faces of two people (each an (n_i, 128) array)."""
    if not people:
        return np.zeros((0, 0))
    faces = np.concatenate(people)
    counts = np.array([len(p) for p in people])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sq = np.sum(faces * faces, axis=1)
    pair = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * faces @ faces.T, 0.0))
    block = np.add.reduceat(np.add.reduceat(pair, starts, axis=0), starts, axis=1)
    return block / np.outer(counts, counts)


def cluster_people(dist: np.ndarray, cannot_link: list[tuple[int, int]], threshold: float,
                   margin: float = 0.0, weights: list[float] | None = None) -> list[int]:
    """Average-linkage clustering of people given all their (m, m) distances (see linkage.average_linkage:
    people seen together in one frame never join; with a `margin`, a person between two clusters that stay
    apart joins neither). Returns a label per person, independent of their order."""
    m = len(dist)
    pairs = {(i, j): float(dist[i, j]) for i in range(m) for j in range(i + 1, m)}
    return average_linkage(m, pairs, threshold, cannot_link, margin, weights)


def inherit_ids(old_ids: list[str], labels: list[int], founders: list[str],
                pinned: Mapping[int, str] | None = None) -> list[str]:
    """Gives each new cluster its pin (the id an analyst put it under), else the old id it overlaps most
    (each id used once, largest overlaps first); a cluster with no id left takes `founders[i]` of its first
    member."""
    chosen: dict[int, str] = {}
    used: set[str] = set()
    for label, pin in sorted((pinned or {}).items()):
        if pin not in used:
            chosen[label] = pin
            used.add(pin)
    overlap: dict[tuple[int, str], int] = {}
    for old, label in zip(old_ids, labels, strict=True):
        if old:
            overlap[(label, old)] = overlap.get((label, old), 0) + 1
    for (label, old), _count in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if label not in chosen and old not in used:
            chosen[label] = old
            used.add(old)
    for i, label in enumerate(labels):
        if label not in chosen:
            chosen[label] = founders[i]
    return [chosen[label] for label in labels]
