"""The identity space: assigns the people of an analysed video to influencers in the face store, and
re-derives, merges, splits and renames influencers. Serialised by one lock per process: Qdrant's local
mode has one writer, and two people seen at once must not both found an influencer."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.identity.analyzer import PersonObservation, VideoAnalysis
from services.identity.matching import (
    cluster_people,
    decide,
    influencer_distances,
    inherit_ids,
    new_influencer_id,
    person_distances,
)
from services.identity.vectors import FaceIndex, FacePoint, point_id

NEIGHBOURS = 32
# A person seen once, in a poor face, and like nobody else is more likely a false detection than a person:
# kept in the store (a later sighting can confirm it) but not an influencer.
UNCONFIRMED = ""
CONFIRM_FACES = 2
CONFIRM_QUALITY = 0.6
# Influencers with a face this much farther than the clustering threshold from a new face are re-derived
# with it: a cluster can only join another whose faces come near.
NEIGHBOURHOOD_SLACK = 0.15


@dataclass
class AppearanceOut:
    influencer_id: str
    first_seen_s: float
    last_seen_s: float
    faces: int
    screen_time_s: float
    best_face: bytes
    face_quality: float
    ambiguous: bool = False

    def absorb(self, other: AppearanceOut) -> None:
        """Two people of one video found to be one influencer: one appearance, counted once."""
        self.first_seen_s = min(self.first_seen_s, other.first_seen_s)
        self.last_seen_s = max(self.last_seen_s, other.last_seen_s)
        self.faces += other.faces
        self.screen_time_s += other.screen_time_s
        self.ambiguous = self.ambiguous or other.ambiguous
        if other.face_quality > self.face_quality:
            self.best_face, self.face_quality = other.best_face, other.face_quality


@dataclass
class InfluencerInfo:
    influencer_id: str
    name: str
    videos: list[str]
    faces: int
    best_crop: str
    face_quality: float


class IdentityRegistry:
    def __init__(self, index: FaceIndex, crops_dir: Path, threshold: float, margin: float,
                 cluster_threshold: float) -> None:
        self.index = index
        self.crops_dir = crops_dir
        self.threshold = threshold
        self.margin = margin
        self.cluster_threshold = cluster_threshold
        self.lock = threading.RLock()
        crops_dir.mkdir(parents=True, exist_ok=True)

    # ---- one video --------------------------------------------------------------------------------
    def assign(self, video_id: str, analysis: VideoAnalysis) -> list[AppearanceOut]:
        """Replaces the video's faces in the store with those of `analysis` and returns one appearance
        per influencer in the video."""
        with self.lock:
            self.index.delete_video(video_id)
            people = sorted(analysis.people, key=lambda p: -len(p.encodings))
            given: dict[int, str] = {}
            decisions = {}
            for person in people:
                # The video's own faces were deleted above, under the same lock: no filter needed (and a
                # filter makes local-mode search scan every payload).
                hits = self.index.search(person.encodings, NEIGHBOURS)
                distances = influencer_distances(hits)
                # People of this video seen in one frame with this one cannot be the same influencer.
                forbidden = {given[p] for p in person.cooccurs if p in given}
                decision = decide(distances, self.threshold, self.margin, forbidden)
                influencer = decision.influencer_id
                if influencer is None:
                    # Not in the store yet: maybe a person of this same video already founded it.
                    same = [given[p.person] for p in people if p.person in given and p.person not in person.cooccurs
                            and given[p.person] not in forbidden
                            and _set_distance(p.encodings, person.encodings) < self.threshold]
                    influencer = same[0] if same else (
                        new_influencer_id(video_id, person.person) if confirmed(person.faces, person.best_quality)
                        else UNCONFIRMED)
                given[person.person] = influencer
                decisions[person.person] = decision
            points = []
            for person in people:
                crop = self._save_crop(video_id, person)
                for k, vec in enumerate(person.encodings):
                    points.append(FacePoint(point_id(video_id, person.person, k), vec, _payload(
                        video_id, person, k, given[person.person], crop, decisions[person.person].ambiguous)))
            self.index.upsert(points)
            return _appearances(points, self.crops_dir)

    def forget(self, video_id: str) -> int:
        with self.lock:
            return self.index.delete_video(video_id)

    def video_ids(self) -> set[str]:
        return {str(f.payload["video_id"]) for f in self.index.scroll()}

    def _save_crop(self, video_id: str, person: PersonObservation) -> str:
        name = f"{video_id}-{person.person}.jpg"
        if person.best_face:
            tmp = self.crops_dir / (name + ".tmp")
            tmp.write_bytes(person.best_face)
            tmp.replace(self.crops_dir / name)
        return name

    # ---- the whole space ---------------------------------------------------------------------------
    def recluster(self, video_ids: list[str] | None = None) -> dict[str, list[AppearanceOut]]:
        """Re-derives influencers from the stored faces (average linkage over people, never joining people
        seen in one frame); a new cluster keeps the old id it overlaps most. With `video_ids`, only the
        neighbourhood of those videos' people is re-derived: their influencers and every influencer with
        a face near theirs, so the cost follows the batch, not the store. Returns the appearances of
        every video whose influencers changed."""
        with self.lock:
            faces = self._neighbourhood(video_ids) if video_ids else list(self.index.scroll(with_vectors=True))
            groups: dict[tuple[str, int], list[FacePoint]] = defaultdict(list)
            for f in faces:
                groups[(f.payload["video_id"], int(f.payload["person"]))].append(f)
            keys = sorted(groups)
            if not keys:
                return {}
            dist = person_distances([np.stack([f.vector for f in groups[k]]) for k in keys])
            position = {k: i for i, k in enumerate(keys)}
            cannot = [(position[k], position[(k[0], int(o))]) for k in keys
                      for o in groups[k][0].payload.get("cooccurs", []) if (k[0], int(o)) in position]
            labels = cluster_people(dist, cannot, self.cluster_threshold, self.margin)
            old = [_majority(groups[k]) for k in keys]
            founders = [new_influencer_id(*k) for k in keys]
            new = inherit_ids(old, labels, founders)
            members: dict[int, list[int]] = defaultdict(list)
            for i, label in enumerate(labels):
                members[label].append(i)
            for group in members.values():
                payload = groups[keys[group[0]]][0].payload
                if len(group) == 1 and not confirmed(int(payload["faces"]), float(payload["best_quality"])):
                    new[group[0]] = UNCONFIRMED
            return self._reassign({k: new[i] for i, k in enumerate(keys)}, groups)

    def all_appearances(self) -> dict[str, list[AppearanceOut]]:
        """The current appearances of every video in the store (one scan; nothing re-derived)."""
        with self.lock:
            by_video: dict[str, list[FacePoint]] = defaultdict(list)
            for f in self.index.scroll():
                by_video[str(f.payload["video_id"])].append(f)
            return {v: _appearances(faces, self.crops_dir) for v, faces in sorted(by_video.items())}

    def _neighbourhood(self, video_ids: list[str]) -> list[FacePoint]:
        seed = self.index.faces_in(sorted(set(video_ids)), with_vectors=True)
        if not seed:
            return []
        radius = self.cluster_threshold + NEIGHBOURHOOD_SLACK
        hits = self.index.search(np.stack([f.vector for f in seed]), NEIGHBOURS)
        near = {str(f.payload["influencer_id"]) for f in seed} | {inf for h in hits for inf, d in h if d < radius}
        faces = {f.point_id: f for f in self.index.faces_of(sorted(near), with_vectors=True)}
        faces.update({f.point_id: f for f in seed})
        return list(faces.values())

    def open_batch(self, batch: str, worker: str) -> bool:
        """Marks a batch of `worker` (an ingest instance) as under way; True when that worker's previous
        batch never closed (an interrupted run)."""
        with self.lock:
            interrupted = self.index.get_meta(f"batch:{worker}") is not None
            self.index.set_meta(f"batch:{worker}", {"batch": batch})
            return interrupted

    def close_batch(self, worker: str) -> None:
        with self.lock:
            self.index.set_meta(f"batch:{worker}", None)

    def merge(self, influencer_ids: list[str]) -> dict[str, list[AppearanceOut]]:
        if len(influencer_ids) < 2:
            raise ValueError("merge needs at least two influencer ids")
        with self.lock:
            target = influencer_ids[0]
            groups = self._groups_of(influencer_ids)
            return self._reassign({k: target for k in groups}, groups)

    def split(self, influencer_id: str, video_ids: list[str]) -> dict[str, list[AppearanceOut]]:
        with self.lock:
            groups = self._groups_of([influencer_id])
            moving = sorted(k for k in groups if k[0] in set(video_ids))
            if not moving:
                raise KeyError(f"{influencer_id} has no faces in the videos given")
            new_id = new_influencer_id(*moving[0]) + "s"
            return self._reassign({k: new_id for k in moving}, groups)

    def rename(self, influencer_id: str, name: str) -> None:
        with self.lock:
            if not self.index.faces_of(influencer_id):
                raise KeyError(f"no influencer {influencer_id}")
            self.index.set_name(influencer_id, name)

    def _groups_of(self, influencer_ids: list[str]) -> dict[tuple[str, int], list[FacePoint]]:
        groups: dict[tuple[str, int], list[FacePoint]] = defaultdict(list)
        for inf in influencer_ids:
            faces = self.index.faces_of(inf)
            if not faces:
                raise KeyError(f"no influencer {inf}")
            for f in faces:
                groups[(f.payload["video_id"], int(f.payload["person"]))].append(f)
        return groups

    def _reassign(self, target: dict[tuple[str, int], str],
                  groups: dict[tuple[str, int], list[FacePoint]]) -> dict[str, list[AppearanceOut]]:
        moves: dict[str, list[str]] = defaultdict(list)
        changed: set[str] = set()
        for key, inf in target.items():
            for f in groups[key]:
                if f.payload.get("influencer_id") != inf:
                    moves[inf].append(f.point_id)
                    changed.add(key[0])
        self.index.set_influencer(dict(moves))
        by_video: dict[str, list[FacePoint]] = defaultdict(list)
        for f in self.index.faces_in(sorted(changed)) if changed else []:
            by_video[str(f.payload["video_id"])].append(f)
        return {v: _appearances(by_video[v], self.crops_dir) for v in sorted(changed)}

    # ---- reading ---------------------------------------------------------------------------------
    def influencers(self) -> list[InfluencerInfo]:
        names = self.index.names()
        acc: dict[str, InfluencerInfo] = {}
        for f in self.index.scroll():
            inf = str(f.payload["influencer_id"])
            if inf == UNCONFIRMED:
                continue
            info = acc.setdefault(inf, InfluencerInfo(inf, names.get(inf, ""), [], 0, "", -1.0))
            info.faces += 1
            if f.payload["video_id"] not in info.videos:
                info.videos.append(f.payload["video_id"])
            if f.payload.get("best_quality", 0.0) > info.face_quality:
                info.face_quality = float(f.payload["best_quality"])
                info.best_crop = str(f.payload.get("crop", ""))
        return sorted(acc.values(), key=lambda i: i.influencer_id)

    def crop_bytes(self, crop: str) -> bytes:
        path = self.crops_dir / crop
        return path.read_bytes() if crop and path.is_file() else b""

    def nearest(self, encoding: np.ndarray, limit: int) -> list[tuple[str, float]]:
        hits = self.index.search(encoding[None, :], max(limit * 8, NEIGHBOURS))[0]
        best: dict[str, float] = {}
        for inf, d in hits:
            if inf != UNCONFIRMED:
                best.setdefault(inf, d)
        return sorted(best.items(), key=lambda kv: kv[1])[:limit]


def confirmed(faces: int, best_quality: float) -> bool:
    """Enough good faces to call a person an influencer on their own."""
    return faces >= CONFIRM_FACES or best_quality >= CONFIRM_QUALITY


def _set_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).min(axis=0)))


def _majority(faces: list[FacePoint]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for f in faces:
        counts[str(f.payload.get("influencer_id", ""))] += 1
    return max(sorted(counts), key=lambda k: counts[k])


def _payload(video_id: str, person: PersonObservation, k: int, influencer_id: str, crop: str,
             ambiguous: bool) -> dict[str, object]:
    return {
        "video_id": video_id,
        "person": person.person,
        "influencer_id": influencer_id,
        "timestamp_s": person.timestamps[k],
        "box": list(person.boxes[k]),
        "quality": person.qualities[k],
        "first_seen_s": person.first_seen_s,
        "last_seen_s": person.last_seen_s,
        "faces": person.faces,
        "screen_time_s": person.screen_time_s,
        "best_quality": person.best_quality,
        "crop": crop,
        "cooccurs": sorted(person.cooccurs),
        "ambiguous": ambiguous,
    }


def _appearances(faces: list[FacePoint], crops_dir: Path) -> list[AppearanceOut]:
    """One appearance per influencer of a video, from its stored faces (one person counted once)."""
    people: dict[int, FacePoint] = {}
    for f in faces:
        people.setdefault(int(f.payload["person"]), f)
    out: dict[str, AppearanceOut] = {}
    for _, f in sorted(people.items()):
        p = f.payload
        if p["influencer_id"] == UNCONFIRMED:
            continue
        crop = crops_dir / str(p.get("crop", ""))
        app = AppearanceOut(str(p["influencer_id"]), float(p["first_seen_s"]), float(p["last_seen_s"]),
                            int(p["faces"]), float(p["screen_time_s"]),
                            crop.read_bytes() if crop.is_file() else b"", float(p["best_quality"]),
                            bool(p.get("ambiguous", False)))
        if app.influencer_id in out:
            out[app.influencer_id].absorb(app)
        else:
            out[app.influencer_id] = app
    return sorted(out.values(), key=lambda a: a.first_seen_s)
