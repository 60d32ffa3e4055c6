"""Synthetic face catalogues for bench/scale.py, made from real encodings so that clusters look like faces.

An identity is a real person's mean encoding plus an offset of its own; the offsets mix the directions in
which real people differ (their means minus the grand mean) with isotropic noise, scaled so that synthetic
identities stand about as far apart as real people do. One appearance of an identity in a video (a
"person", as identity stores them: ~3 faces) moves from the identity's centre by a real face's deviation
from its person's mean (two mixed, so that 210 photos give endless variety), and each face moves again by a
little noise: faces of one appearance sit ~0.2 apart, faces of one identity in two videos ~0.45 (the real
photos: 0.45). Videos have ~2 people; a few are reposts (the same faces under another video id, stored as
copies). Popularity is skewed: a few identities appear in thousands of videos, most in a handful.

All distances are Euclidean between 128-d face_recognition encodings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from services.identity.facestore import VECTOR_SIZE, FacePoint, FaceRecord, point_id, vector_hash
from services.identity.matching import new_influencer_id

APPEARANCES_PER_IDENTITY = 6  # mean number of videos an identity appears in
PEOPLE_PER_VIDEO = ((1, 2, 3), (0.3, 0.4, 0.3))  # mean 2
FACES_PER_PERSON = ((2, 3, 4), (0.25, 0.5, 0.25))  # mean 3: a few per track
TOGETHER = 0.6  # of the videos with several people, those where they share a frame (split screen)
REPOSTS = 0.02  # of the videos, exact copies of an earlier one under another id
OFFSET_REAL_SHARE = 0.5  # of an identity offset's variance along the directions real people differ in
IDENTITY_SPREAD = 0.72  # typical distance between two identity centres on the same base
APPEARANCE_SCALE = 1.0  # of a real face's deviation from its person's mean, per appearance
FACE_SPREAD = 0.2  # typical distance between two faces of one appearance


@dataclass(frozen=True)
class FaceSpace:
    """Real encodings, summarised: per real person its mean; per real face its deviation from that mean."""

    means: np.ndarray  # (people, 128)
    deviations: np.ndarray  # (faces, 128)
    directions: np.ndarray  # (people, 128): means minus their grand mean

    @classmethod
    def from_encodings(cls, encodings: np.ndarray, labels: list[str]) -> FaceSpace:
        names = sorted(set(labels))
        label = np.array(labels)
        means = np.stack([encodings[label == n].mean(axis=0) for n in names])
        deviations = encodings - means[np.searchsorted(names, label)]
        keep = np.array([np.sum(label == n) > 1 for n in label])  # a lone photo deviates by 0: no information
        return cls(means, deviations[keep], means - means.mean(axis=0))


@dataclass
class Catalogue:
    """A catalogue of `faces` synthetic faces, generated a chunk of videos at a time, reproducibly by seed."""

    space: FaceSpace
    faces: int
    seed: int = 0

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        people = max(1, round(self.faces / (3 * APPEARANCES_PER_IDENTITY)))
        self.identities = people
        base = rng.integers(len(self.space.means), size=people)
        self.centres = (self.space.means[base] + _offsets(self.space, people, rng)).astype(np.float32)
        self.ids = [new_influencer_id(f"{c:016x}", 0) for c in range(people)]
        rank = rng.permutation(people)
        weights = 1.0 / (rank + 20.0)  # Zipf-like popularity with a soft head
        self.popularity = weights / weights.sum()

    def appearance_faces(self, identity: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Faces of appearances of `identity` (k,), `counts[i]` faces each: (sum(counts), 128) float32."""
        dev = self.space.deviations
        i, j = rng.integers(len(dev), size=(2, len(identity)))
        theta = rng.uniform(0, math.pi / 2, size=(len(identity), 1))
        shift = APPEARANCE_SCALE * (np.cos(theta) * dev[i] + np.sin(theta) * dev[j])
        centres = np.repeat(self.centres[identity] + shift, counts, axis=0)
        noise = rng.normal(0.0, FACE_SPREAD / math.sqrt(2 * VECTOR_SIZE), centres.shape)
        return (centres + noise).astype(np.float32)

    def chunks(self, videos_per_chunk: int = 500) -> Iterator[list[FacePoint]]:
        """The catalogue's faces, `videos_per_chunk` videos at a time, `self.faces` in all."""
        rng = np.random.default_rng(self.seed + 1)
        cdf = np.cumsum(self.popularity)
        made = 0
        originals: list[list[FacePoint]] = []
        while made < self.faces:
            chunk: list[FacePoint] = []
            for video in self._videos(videos_per_chunk, cdf, rng):
                if originals and rng.random() < REPOSTS:
                    video = _repost(originals[int(rng.integers(len(originals)))], rng)
                elif len(originals) < 10_000:
                    originals.append(video)
                video = video[: self.faces - made]
                chunk += video
                made += len(video)
                if made >= self.faces:
                    break
            yield chunk

    def _videos(self, n: int, cdf: np.ndarray, rng: np.random.Generator) -> Iterator[list[FacePoint]]:
        """`n` videos, drawn together (numpy does the arithmetic, a loop only makes the records)."""
        people = rng.choice(PEOPLE_PER_VIDEO[0], size=n, p=PEOPLE_PER_VIDEO[1])
        slots = int(people.sum())
        who = np.minimum(np.searchsorted(cdf, rng.random(slots) * cdf[-1]), self.identities - 1)
        counts = rng.choice(FACES_PER_PERSON[0], size=slots, p=FACES_PER_PERSON[1])
        vectors = self.appearance_faces(who, counts, rng)
        hashes = [vector_hash(v) for v in vectors]
        together = rng.random(n) < TOGETHER
        first = rng.uniform(0, 5, slots)
        last = first + rng.uniform(1, 10, slots)
        sides = rng.integers(80, 400, int(counts.sum()))
        tops, lefts = rng.integers(0, 600, len(sides)), rng.integers(0, 300, len(sides))
        qualities = rng.uniform(0.4, 0.95, len(sides))
        slot = row = 0
        for v in range(n):
            video_id = f"{int(rng.integers(2**63)):016x}"
            k = int(people[v])
            out = []
            for person in range(k):
                s = slot + person
                count, f0, f1 = int(counts[s]), float(first[s]), float(last[s])
                others = [p for p in range(k) if p != person] if together[v] else []
                for face in range(count):
                    side, top, left = int(sides[row]), int(tops[row]), int(lefts[row])
                    record = FaceRecord(
                        video_id=video_id, person=person, influencer_id=self.ids[int(who[s])],
                        timestamp_s=f0 + face * (f1 - f0) / count, box=[top, left + side, top + side, left],
                        quality=float(qualities[row]), first_seen_s=f0, last_seen_s=f1, faces=count * 3,
                        screen_time_s=f1 - f0, best_quality=0.95, crop=f"{video_id}-{person}.jpg",
                        cooccurs=others, vhash=hashes[row])
                    out.append(FacePoint(point_id(video_id, person, face), vectors[row], record))
                    row += 1
            slot += k
            yield out


def _offsets(space: FaceSpace, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 128) offsets whose pairwise distances are ~IDENTITY_SPREAD: a share along real directions."""
    d = space.directions
    real = rng.normal(size=(n, len(d))) @ d
    real *= math.sqrt(OFFSET_REAL_SHARE) * IDENTITY_SPREAD / math.sqrt(2 * np.mean(np.sum(real**2, axis=1)))
    iso_sd = math.sqrt(1 - OFFSET_REAL_SHARE) * IDENTITY_SPREAD / math.sqrt(2 * VECTOR_SIZE)
    return real + rng.normal(0.0, iso_sd, (n, VECTOR_SIZE))


def _repost(video: list[FacePoint], rng: np.random.Generator) -> list[FacePoint]:
    video_id = f"{int(rng.integers(2**63)):016x}"
    out = []
    for f in video:
        r = f.record
        record = FaceRecord(**{**r.to_payload(), "video_id": video_id, "crop": f"{video_id}-{r.person}.jpg",
                               "copy": 1})
        out.append(FacePoint(point_id(video_id, r.person, len([o for o in out if o.record.person == r.person])),
                             f.vector, record))
    return out


def distance_profile(vectors: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Over a small set of faces (all pairs in memory): p5 / p50 / p95 of the distances between faces of one
    label, and of each face's distance to its nearest face of another label. `vectors` (n, 128)."""
    v = np.asarray(vectors, np.float64)
    d = np.sqrt(np.maximum(np.sum(v**2, 1)[:, None] + np.sum(v**2, 1)[None, :] - 2 * v @ v.T, 0.0))
    label = np.asarray(labels)
    own = label[:, None] == label[None, :]
    upper = np.triu(np.ones_like(own), 1)
    same = d[own & upper]
    nearest_other = np.where(own, np.inf, d).min(axis=1)
    out: dict[str, float] = {}
    for name, values in (("same", same), ("nearest_other", nearest_other[np.isfinite(nearest_other)])):
        for p in (5, 50, 95):
            out[f"{name}_p{p}"] = float(np.percentile(values, p)) if len(values) else float("nan")
    return out
