"""The "same person?" review queue, pure: which influencer pairs to ask the analyst about, and in what order.

Candidates (a person = one video's faces of one individual):
- pairs of influencers whose people come within `radius` of each other's mean face (the engine's kNN over
  each person's mean face, see review_store.py, never all pairs), the clustering threshold plus the review
  band, under the threshold included;
- an appearance flagged ambiguous, with its nearest other influencer;
- two people of one video, of two influencers, never seen in one frame (one person in two shots with two
  looks: never a candidate before).
Each pair is measured on its closest two people (mean Euclidean distance over all pairs of their faces, what
the re-derivation compares with its threshold), worded by that measure (NEAR within `radius`, FAR past it: a
person near someone brings that someone's video in, and every person of the video is measured), and given
the pair model's probability of being one person (review_model.py). Most likely first: highest probability
first; those under the floor wait behind "show less likely". Answered pairs never come back; pairs seen in one
frame are never asked about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from services.identity.facestore import FacePoint

SAME, DIFFERENT, SKIP = "same", "different", "skip"
ANSWERS = (SAME, DIFFERENT, SKIP)
NEAR = "near the threshold"
FAR = "far apart"
AMBIGUOUS = "ambiguous match"
SAME_VIDEO = "one video, different shots"


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
    cooccurs: frozenset[int] = frozenset()  # the people of its video seen in one frame with it

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
            person = people[r.person_key] = Person(r.video_id, r.person, r.influencer_id, r.ambiguous, crop=r.crop,
                                                   cooccurs=frozenset(r.cooccurs))
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


def same_video_pairs(people: list[Person]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of people of one video, of two influencers, never seen in one frame: one person
    in two shots with two looks is split this way, and no kNN radius finds it."""
    by_video: dict[str, list[int]] = {}
    for i, p in enumerate(people):
        by_video.setdefault(p.video_id, []).append(i)
    return [(i, j) for ids in by_video.values() for k, i in enumerate(ids) for j in ids[k + 1:]
            if people[i].influencer_id != people[j].influencer_id and people[j].person not in people[i].cooccurs
            and people[i].person not in people[j].cooccurs]


@dataclass(frozen=True)
class Together:
    """Where two influencers appear together: the videos holding a person of each, and whether any of them
    shows the two in one frame."""

    videos: frozenset[str]
    same_frame: bool


def together(people: list[Person]) -> dict[tuple[str, str], Together]:
    """For each pair of influencers (pair_key) with people in one video: where they appear together."""
    by_video: dict[str, list[Person]] = {}
    for p in people:
        by_video.setdefault(p.video_id, []).append(p)
    videos: dict[tuple[str, str], set[str]] = {}
    frame: set[tuple[str, str]] = set()
    for video, ps in by_video.items():
        for k, x in enumerate(ps):
            for y in ps[k + 1:]:
                if x.influencer_id == y.influencer_id:
                    continue
                key = pair_key(x.influencer_id, y.influencer_id)
                videos.setdefault(key, set()).add(video)
                if y.person in x.cooccurs or x.person in y.cooccurs:
                    frame.add(key)
    return {key: Together(frozenset(v), key in frame) for key, v in videos.items()}


@dataclass(frozen=True)
class Item:
    """One question: are influencers `a` and `b` one person? Each side's closest person: its best face's
    crop reference, its video and the time of that face (seconds). `distance`: mean Euclidean face distance
    between the two people; `probability`: the pair model's probability in [0, 1] that they are one person."""

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
    probability: float = 0.0


def closest_pairs(measured: Iterable[tuple[Person, Person, float, str]], radius: float
                  ) -> dict[tuple[str, str], Item]:
    """For each influencer pair, the item of its closest two people among the measured (person, person,
    distance, reason); an ambiguous flag on any of its measured pairs makes the pair's reason AMBIGUOUS, two
    people of one video SAME_VIDEO, else its closest two people's distance words it: NEAR under `radius` (the
    threshold plus the review band), FAR from it on. A candidate's video holds other people too, measured with
    it: a pair 1.4 apart was "near the threshold"."""
    out: dict[tuple[str, str], Item] = {}
    for x, y, d, reason in measured:
        if x.influencer_id == y.influencer_id:
            continue
        key = pair_key(x.influencer_id, y.influencer_id)
        first, second = (x, y) if x.influencer_id == key[0] else (y, x)
        old = out.get(key)
        if reason == AMBIGUOUS or (old is not None and old.reason == AMBIGUOUS):
            why = AMBIGUOUS
        else:
            why = SAME_VIDEO if x.video_id == y.video_id else NEAR if d < radius else FAR
        if old is None or d < old.distance:
            out[key] = Item(key[0], key[1], d, why, first.crop, second.crop, first.video_id, second.video_id,
                            first.best_s, second.best_s)
        elif why != old.reason and why == AMBIGUOUS:
            out[key] = Item(**{**old.__dict__, "reason": why})
    return out


@dataclass(frozen=True)
class Queue:
    """The items to ask (most likely first, at most the limit asked for) and how many are left in all:
    `likely` at or above the floor, `unlikely` under it."""

    items: list[Item]
    likely: int
    unlikely: int


def queue(items: Iterable[Item], answered: set[tuple[str, str]], floor: float, limit: int,
          unlikely: bool = False) -> Queue:
    """The items not answered before, most likely first (highest probability, then smallest distance, then
    ids): those at or above `floor` only, unless `unlikely`, then the rest after them; at most `limit`."""
    wanted = sorted((i for i in items if pair_key(i.a, i.b) not in answered),
                    key=lambda i: (-i.probability, i.distance, i.a, i.b))
    likely = sum(1 for i in wanted if i.probability >= floor)
    shown = wanted if unlikely else wanted[:likely]
    return Queue(shown[:limit], likely, len(wanted) - likely)


def small_influencer_items(items: Iterable[Item], answered: set[tuple[str, str]], videos: dict[str, int],
                           most_videos: int, least: float) -> list[Item]:
    """Pairs under the floor worth one question each (measured in docs/review.md, not asked by the queue yet):
    for each influencer in at most `most_videos` videos (`videos`: influencer id -> videos it is in) that no
    answer has touched, its most likely unanswered pair, when that pair's probability is at least `least`.
    Most likely first; a pair of two such influencers is asked once."""
    touched = {x for pair in answered for x in pair}
    out: list[Item] = []
    asked: set[str] = set()
    for i in sorted((i for i in items if pair_key(i.a, i.b) not in answered),
                    key=lambda i: (-i.probability, i.distance, i.a, i.b)):
        if i.probability < least:
            break
        small = {x for x in (i.a, i.b) if videos.get(x, 0) <= most_videos and x not in touched and x not in asked}
        if small:
            out.append(i)
            asked |= small
    return out
