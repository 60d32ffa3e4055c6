"""Reading the review queue's candidates from the face store: one pass over the faces for each person's mean
face, one batched kNN query per 1,024 people, then the exact distance of the few candidate pairs from their
faces. The choosing and ordering is pure (review.py)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from services.identity.facestore import FaceStore, chunks
from services.identity.matching import person_distances
from services.identity.review import Item, Person, candidates, closest_pairs, queue, summarise

KNN = 32


def review_items(store: FaceStore, answered: set[tuple[str, str]], hidden: set[str], threshold: float,
                 band: float, limit: int) -> list[Item]:
    """Up to `limit` review items, most likely first (see review.queue). Hidden influencers are not asked
    about."""
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
    videos = sorted({people[i].video_id for i, _ in found} | {v for _, v in found})
    faces: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
    for chunk in chunks(videos, 256):
        for f in store.faces_in(list(chunk), with_vectors=True):
            if not f.record.copy and not f.record.reference:
                faces[f.record.person_key].append(f.vector)
    by_video: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_video[p.video_id].append(p)
    measured = []
    for (i, video), why in found.items():
        x = people[i]
        mine = np.stack(faces[(x.video_id, x.person)])
        for y in by_video.get(video, []):
            if y.influencer_id != x.influencer_id and faces.get((y.video_id, y.person)):
                theirs = np.stack(faces[(y.video_id, y.person)])
                measured.append((x, y, float(person_distances([mine, theirs])[0, 1]), why))
    return queue(closest_pairs(measured).values(), answered, threshold, band, limit)
