"""Assigning the people of one analysed video to influencers: search the store for each person's faces,
decide by threshold and margin, found new influencers for people nobody resembles, and write the faces."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

from services.identity.analyzer import PersonObservation, VideoAnalysis
from services.identity.appearances import UNCONFIRMED, AppearanceOut, appearances_of, confirmed
from services.identity.crops import CropStore, check_id
from services.identity.facestore import FacePoint, FaceRecord, FaceStore, Hit, point_id, vector_hash
from services.identity.matching import Decision, decide, influencer_distances, new_influencer_id
from services.identity.segments import to_flat

NEIGHBOURS = 32
# Euclidean distance under which a new encoding is a stored face's own (a repost's frame): the same frames
# through another encoder or dlib build differ by <= 5.1e-7 a component (<= 6e-6 in all), two frames of one
# face by ~0.05 at the least. The encoding hash alone (rounded to 1e-5) splits ~60% of such pairs.
SAME_FACE = 1e-4


@dataclass(frozen=True)
class Thresholds:
    match: float  # median distance under which a person is a known influencer
    margin: float  # a second influencer this close makes the match ambiguous
    cluster: float  # re-clustering: mean pairwise distance under which people join


def assign_video(store: FaceStore, crops: CropStore, video_id: str, analysis: VideoAnalysis,
                 thresholds: Thresholds) -> list[AppearanceOut]:
    """Replaces the video's faces in the store with those of `analysis`; returns one appearance per
    influencer in the video (with the best face's bytes). The caller serialises calls."""
    check_id(video_id)
    crops.delete(f.record.crop for f in forget_video(store, video_id))
    people = sorted(analysis.people, key=lambda p: -len(p.encodings))
    given: dict[int, str] = {}
    decisions: dict[int, Decision] = {}
    nearest: dict[int, list[Hit | None]] = {}
    for person in people:
        hits = store.search(person.encodings, NEIGHBOURS)
        nearest[person.person] = [face[0] if face else None for face in hits]
        distances = influencer_distances([[(h.influencer_id, h.distance) for h in face] for face in hits])
        # People of this video seen in one frame with this one cannot be the same influencer.
        forbidden = {given[p] for p in person.cooccurs if p in given}
        decision = decide(distances, thresholds.match, thresholds.margin, forbidden)
        influencer = decision.influencer_id
        if influencer is None:
            # Not in the store yet: maybe a person of this same video already founded it.
            same = [given[p.person] for p in people if p.person in given and p.person not in person.cooccurs
                    and given[p.person] not in forbidden
                    and _set_distance(p.encodings, person.encodings) < thresholds.match]
            influencer = same[0] if same else (
                new_influencer_id(video_id, person.person) if confirmed(person.faces, person.best_quality)
                else UNCONFIRMED)
        given[person.person] = influencer
        decisions[person.person] = decision
    points = _points(store, crops, video_id, people, given, decisions, nearest)
    store.upsert(points)
    best = {crops.ref(video_id, p.person): p.best_face for p in people}
    apps = appearances_of(points)
    for app in apps:
        app.best_face = best.get(app.face_ref, b"")
    return apps


def copied_hash(own: str, seen: set[str], nearest: Hit | None) -> str | None:
    """The encoding hash a new face is stored under when it is a copy of a stored face (a repost's), or None
    when it is not: its own hash when a stored face has it (`seen`), else the hash of the stored face
    `nearest` to it when that is under SAME_FACE away (the same frame through another encoder or build, whose
    hash may round another way), so that the copy and its original share one hash (clustering.py counts them
    as one sighting; promote_copies finds the copy by it)."""
    if own in seen:
        return own
    if nearest is not None and nearest.distance < SAME_FACE and nearest.vhash:
        return nearest.vhash
    return None


def _points(store: FaceStore, crops: CropStore, video_id: str, people: list[PersonObservation],
            given: dict[int, str], decisions: dict[int, Decision],
            nearest: dict[int, list[Hit | None]]) -> list[FacePoint]:
    hashes = {p.person: [vector_hash(v) for v in p.encodings] for p in people}
    wanted = sorted({h for hs in hashes.values() for h in hs})
    # A face already stored under another video (a repost) is a copy: kept, never searched.
    seen = {f.record.vhash for f in store.faces_where("vhash", wanted)} if wanted else set()
    points = []
    for person in people:
        crop = crops.save(video_id, person.person, person.best_face)
        for k, vec in enumerate(person.encodings):
            copied = copied_hash(hashes[person.person][k], seen, nearest[person.person][k])
            vhash = copied or hashes[person.person][k]
            record = FaceRecord(
                video_id=video_id, person=person.person, influencer_id=given[person.person],
                timestamp_s=person.timestamps[k], box=[int(v) for v in person.boxes[k]],
                quality=person.qualities[k], first_seen_s=person.first_seen_s, last_seen_s=person.last_seen_s,
                faces=person.faces, screen_time_s=person.screen_time_s, best_quality=person.best_quality,
                crop=crop, cooccurs=sorted(person.cooccurs), ambiguous=decisions[person.person].ambiguous,
                vhash=vhash, copy=int(copied is not None), segments=to_flat(person.segments))
            seen.add(vhash)
            points.append(FacePoint(point_id(video_id, person.person, k), np.asarray(vec, np.float32), record))
    return points


def enrol_target(store: FaceStore, photos: list[tuple[str, np.ndarray]], thresholds: Thresholds) -> str:
    """The influencer reference photos of one person (`photos`: (photo id, (128,) encoding)) belong to: the one
    they match best (median over the photos, under the match threshold), or else a new id. Writes nothing."""
    vectors = np.stack([np.asarray(v, np.float32) for _, v in photos])
    hits = store.search(vectors, NEIGHBOURS)
    decision = decide(influencer_distances([[(h.influencer_id, h.distance) for h in face] for face in hits]),
                      thresholds.match, thresholds.margin, set())
    return decision.influencer_id or new_influencer_id(photos[0][0], 0)


def enrol_faces(store: FaceStore, photos: list[tuple[str, np.ndarray]], thresholds: Thresholds,
                target: str = "") -> str:
    """Stores the faces of reference photos of one person, `photos` being (photo id, (128,) encoding): each a
    reference face (searched and clustered, never an appearance) pinned to `target`, or to enrol_target's
    choice when it is "". Returns the influencer id."""
    target = target or enrol_target(store, photos, thresholds)
    vectors = np.stack([np.asarray(v, np.float32) for _, v in photos])
    ids = [photo_id for photo_id, _ in photos]
    store.upsert([FacePoint(point_id(photo_id, 0, 0), vec, FaceRecord(
        video_id=photo_id, person=0, influencer_id=target, quality=1.0, faces=1, best_quality=1.0,
        vhash=vector_hash(vec), pinned=target, reference=1)) for photo_id, vec in zip(ids, vectors, strict=True)])
    return target


def copy_video(store: FaceStore, crops: CropStore, video_id: str, source_video_id: str) -> list[AppearanceOut]:
    """Stores the faces of the analysed video `source_video_id` again under `video_id` (a repost of it), as
    copies: the same vectors, people, times and influencers (pins included, so corrections hold), kept and
    counted but never searched, as a repeated encoding is in assign_video. Returns the video's appearances
    (with the best faces' bytes). LookupError when the source has no face stored. The caller serialises."""
    check_id(video_id)
    check_id(source_video_id)
    source = sorted((f for f in store.faces_in(source_video_id, with_vectors=True) if not f.record.reference),
                    key=lambda f: f.point_id)
    if not source or video_id == source_video_id:
        raise LookupError(f"video {source_video_id} has no faces stored")
    crops.delete(f.record.crop for f in forget_video(store, video_id))
    crop_refs: dict[int, str] = {}
    best: dict[str, bytes] = {}
    counts: dict[int, int] = defaultdict(int)
    points = []
    for f in source:
        person = f.record.person
        if person not in crop_refs:
            jpeg = crops.read(f.record.crop) if f.record.crop else None
            crop_refs[person] = crops.save(video_id, person, jpeg or b"")
            best[crop_refs[person]] = jpeg or b""
        record = replace(f.record, video_id=video_id, copy=1, crop=crop_refs[person])
        points.append(FacePoint(point_id(video_id, person, counts[person]), f.vector, record))
        counts[person] += 1
    store.upsert(points)
    apps = appearances_of(points)
    for app in apps:
        app.best_face = best.get(app.face_ref, b"")
    return apps


def forget_video(store: FaceStore, video_id: str) -> list[FacePoint]:
    """Removes a video's faces; a copy of a removed face takes its place in searches. Returns the faces."""
    gone = store.delete_video(video_id)
    promote_copies(store, gone)
    return gone


def promote_copies(store: FaceStore, gone: list[FacePoint]) -> None:
    """For each original among the removed faces `gone`, one of its remaining copies becomes searchable."""
    originals = sorted({f.record.vhash for f in gone if not f.record.copy and f.record.vhash})
    if originals:
        by_hash: dict[str, list[FacePoint]] = defaultdict(list)
        for f in store.faces_where("vhash", originals):
            by_hash[f.record.vhash].append(f)
        promote = [min(fs, key=lambda f: f.point_id).point_id for fs in by_hash.values()
                   if all(f.record.copy for f in fs)]
        if promote:
            store.set_fields(promote, {"copy": 0})


def _set_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).min(axis=0)))
