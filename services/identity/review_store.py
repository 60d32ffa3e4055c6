"""Reading the review queue's candidates from the face store: one pass over the faces for each person's mean
face, one batched kNN query per 1,024 people, then the faces of the few candidate pairs, measured for the pair
model. The choosing, measuring and ordering are pure (review.py, review_model.py)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from services.identity.facestore import FaceStore, chunks
from services.identity.matching import person_distances
from services.identity.review import (
    AMBIGUOUS,
    SAME_VIDEO,
    Item,
    Person,
    Queue,
    candidates,
    closest_pairs,
    pair_key,
    queue,
    same_video_pairs,
    summarise,
    together,
)
from services.identity.review_model import Evidence, as_wholes, evidence, probability

KNN = 32


@dataclass(frozen=True)
class Candidate:
    """A candidate pair (its item, probability not yet set) and the evidence it was measured on."""

    item: Item
    evidence: Evidence


def measure(store: FaceStore, hidden: set[str], threshold: float, band: float) -> list[Candidate]:
    """Every candidate pair of influencers (see review.py) with its closest two people's evidence. Hidden
    influencers are left out."""
    people = summarise(store.scroll(with_vectors=True), hidden)
    if not people:
        return []
    radius = threshold + band
    found: dict[tuple[int, str], str] = {}
    for start in range(0, len(people), 1024):
        part = people[start:start + 1024]
        hits = store.search(np.stack([p.mean for p in part]), KNN)
        near = candidates(part, [[(h.influencer_id, h.video_id, h.distance) for h in face] for face in hits], radius)
        found.update({(start + i, video): why for (i, video), why in near.items()})
    for i, j in same_video_pairs(people):
        found.setdefault((i, people[j].video_id), SAME_VIDEO)
    videos = sorted({people[i].video_id for i, _ in found} | {v for _, v in found})
    faces: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
    qualities: dict[tuple[str, int], list[float]] = defaultdict(list)
    for chunk in chunks(videos, 256):
        for f in store.faces_in(list(chunk), with_vectors=True):
            if not f.record.copy and not f.record.reference:
                faces[f.record.person_key].append(f.vector)
                qualities[f.record.person_key].append(f.record.quality)
    by_video: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_video[p.video_id].append(p)
    seen = together(people)
    measured: list[tuple[Person, Person, float, str]] = []
    proof: dict[tuple[int, int], Evidence] = {}
    for (i, video), why in found.items():
        x = people[i]
        if not faces.get((x.video_id, x.person)):
            continue
        mine = np.stack(faces[(x.video_id, x.person)])
        key = (x.video_id, x.person)
        for y in by_video.get(video, []):
            if y.influencer_id == x.influencer_id or not faces.get((y.video_id, y.person)):
                continue
            if y.video_id == x.video_id and (y.person in x.cooccurs or x.person in y.cooccurs):
                continue
            theirs = np.stack(faces[(y.video_id, y.person)])
            pair = seen.get(pair_key(x.influencer_id, y.influencer_id))
            one_video = x.video_id == y.video_id
            elsewhere = len(pair.videos - {x.video_id}) if pair else 0
            proof[(id(x), id(y))] = evidence(mine, theirs, qualities[key], qualities[(y.video_id, y.person)],
                                             same_video=one_video, together_elsewhere=elsewhere,
                                             same_frame=bool(pair and pair.same_frame))
            measured.append((x, y, float(person_distances([mine, theirs])[0, 1]), why))
    means: dict[str, list[np.ndarray]] = defaultdict(list)
    for p in people:
        means[p.influencer_id].append(p.mean)
    return _with_evidence(measured, proof, {i: np.stack(m) for i, m in means.items()}, radius)


def _with_evidence(measured: list[tuple[Person, Person, float, str]], proof: dict[tuple[int, int], Evidence],
                   means: dict[str, np.ndarray], radius: float) -> list[Candidate]:
    """Each influencer pair's closest item (review.closest_pairs, worded by `radius`) with the evidence of its two
    people, and of the two influencers as wholes (their people's mean faces, `means`)."""
    closest = {}
    for x, y, d, _why in measured:
        key = pair_key(x.influencer_id, y.influencer_id)
        if key not in closest or d < closest[key][0]:
            closest[key] = (d, proof[(id(x), id(y))])
    items = closest_pairs(((x, y, d, AMBIGUOUS if why == AMBIGUOUS else "") for x, y, d, why in measured), radius)
    return [Candidate(item, as_wholes(closest[key][1], means[key[0]], means[key[1]]))
            for key, item in sorted(items.items())]


def scored(found: list[Candidate], weights: ModuleType | None = None) -> list[Item]:
    """The candidates' items with the pair model's probability (`weights`: see review_model.probability)."""
    return [dataclasses.replace(c.item, probability=probability(c.evidence, weights)) for c in found]


def review_queue(store: FaceStore, answered: set[tuple[str, str]], hidden: set[str], threshold: float,
                 band: float, floor: float, limit: int, unlikely: bool = False,
                 weights: ModuleType | None = None) -> Queue:
    """The review queue (see review.queue): at most `limit` items, most likely first, and the counts left.
    `weights`: another pair model's weights module (benches only; by default the package's)."""
    return queue(scored(measure(store, hidden, threshold, band), weights), answered, floor, limit, unlikely)
