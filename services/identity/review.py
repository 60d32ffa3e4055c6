"""The "same person?" review queue, pure: which influencer pairs to ask the analyst about, and in what order.

A pair is asked about when its two closest people (a person = one video's faces of one individual) come
within [threshold, threshold + band), measured as the mean Euclidean distance over all pairs of their faces (what the
re-derivation compares with its threshold), or when an appearance was flagged ambiguous between them.
Candidate pairs come from the engine's kNN over each person's mean face (see review_store.py), never from
all pairs. Most likely first: smallest distance first. Answered pairs never come back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from services.identity.facestore import FacePoint

SAME, DIFFERENT, SKIP = "same", "different", "skip"
ANSWERS = (SAME, DIFFERENT, SKIP)
NEAR = "near the threshold"
AMBIGUOUS = "ambiguous match"


def pair_key(a: str, b: str) -> tuple[str, str]:
    """A pair of influencers, in a fixed order: the key its answer is kept under."""
    return (a, b) if a <= b else (b, a)


@dataclass
class Person:
    """One video's faces of one individual, summarised: the sum of its encodings (for the mean face), and
    its best face (crop reference, time in seconds from the start of the video, quality in [0, 1])."""

    video_id: str
    person: int
    influencer_id: str
    ambiguous: bool = False
    total: np.ndarray = field(default_factory=lambda: np.zeros(128, np.float64))
    faces: int = 0
    crop: str = ""
    best_s: float = 0.0
    best_quality: float = -1.0

    @property
    def mean(self) -> np.ndarray:
        return (self.total / max(self.faces, 1)).astype(np.float32)


def summarise(points: Iterable[FacePoint], skip: set[str]) -> list[Person]:
    """The people of `points` (read with vectors), sorted by (video, person). Left out: copies (a repost
    is its original), reference photos (no video to show), unconfirmed people and influencers in `skip`."""
    people: dict[tuple[str, int], Person] = {}
    for p in points:
        r = p.record
        if r.copy or r.reference or not r.influencer_id or r.influencer_id in skip:
            continue
        person = people.get(r.person_key)
        if person is None:
            person = people[r.person_key] = Person(r.video_id, r.person, r.influencer_id, r.ambiguous, crop=r.crop)
        person.total += p.vector
        person.faces += 1
        if r.quality > person.best_quality:
            person.best_quality, person.best_s = r.quality, r.timestamp_s
    return [people[k] for k in sorted(people)]


def candidates(people: list[Person], hits: list[list[tuple[str, str, float]]], radius: float
               ) -> dict[tuple[int, str], str]:
    """For person i, `hits[i]`: (influencer id, video id, distance) of the stored faces nearest its mean face,
    nearest first. Returns {(i, video id): reason}: the videos holding a person of another influencer within
    `radius` (NEAR), and for an ambiguous person the video of the nearest other influencer (AMBIGUOUS)."""
    out: dict[tuple[int, str], str] = {}
    for i, (person, near) in enumerate(zip(people, hits, strict=True)):
        others = [(inf, video, d) for inf, video, d in near if inf and inf != person.influencer_id]
        if person.ambiguous and others:
            out[(i, others[0][1])] = AMBIGUOUS
        for _inf, video, d in others:
            if d < radius:
                out.setdefault((i, video), NEAR)
    return out


@dataclass(frozen=True)
class Item:
    """One question: are influencers `a` and `b` one person? Each side's closest person: its best face's
    crop reference, its video and the time of that face (seconds). `distance`: mean Euclidean face distance
    between the two people."""

    a: str
    b: str
    distance: float
    reason: str
    face_ref_a: str
    face_ref_b: str
    video_a: str
    video_b: str
    time_a_s: float
    time_b_s: float


def closest_pairs(measured: Iterable[tuple[Person, Person, float, str]]) -> dict[tuple[str, str], Item]:
    """For each influencer pair, the item of its closest two people among the measured (person, person,
    distance, reason); an ambiguous flag on any of its measured pairs makes the pair's reason AMBIGUOUS."""
    out: dict[tuple[str, str], Item] = {}
    for x, y, d, reason in measured:
        if x.influencer_id == y.influencer_id:
            continue
        key = pair_key(x.influencer_id, y.influencer_id)
        first, second = (x, y) if x.influencer_id == key[0] else (y, x)
        old = out.get(key)
        why = AMBIGUOUS if reason == AMBIGUOUS or (old is not None and old.reason == AMBIGUOUS) else NEAR
        if old is None or d < old.distance:
            out[key] = Item(key[0], key[1], d, why, first.crop, second.crop, first.video_id, second.video_id,
                            first.best_s, second.best_s)
        elif why != old.reason:
            out[key] = Item(**{**old.__dict__, "reason": why})
    return out


def queue(items: Iterable[Item], answered: set[tuple[str, str]], threshold: float, band: float,
          limit: int) -> list[Item]:
    """The items to ask, most likely first (smallest distance, then ids): those in [threshold, threshold +
    band) or flagged ambiguous, and not answered before; at most `limit`. (Under the threshold, two big
    influencers' closest people are as often two look-alikes as one person: on the dev corpus such pairs
    were mostly two people, so they are not asked about unless a match was ambiguous.)"""
    wanted = [i for i in items if pair_key(i.a, i.b) not in answered
              and (threshold <= i.distance < threshold + band or i.reason == AMBIGUOUS)]
    return sorted(wanted, key=lambda i: (i.distance, i.a, i.b))[:limit]
