"""Within one video: link face detections into tracks (position over time, within a shot), then group
encoded faces into people (embedding distance, never two faces of one frame). Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.identity.linkage import average_linkage

Box = tuple[int, int, int, int]  # top, right, bottom, left


@dataclass
class Face:
    frame: int  # index of the sampled frame within the video's stream
    timestamp_s: float
    span_s: float
    shot: int
    box: Box
    quality: float
    encodable: bool
    track: int = -1
    encoding: np.ndarray | None = None
    person: int = -1


@dataclass
class Track:
    shot: int
    faces: list[Face] = field(default_factory=list)


def iou(a: Box, b: Box) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0]) - inter
    return inter / area if area > 0 else 0.0


def _near(a: Box, b: Box) -> float:
    """Link score of two boxes in consecutive samples: IoU, or failing that, close centres and sizes."""
    overlap = iou(a, b)
    if overlap >= 0.3:
        return overlap
    size_a, size_b = a[2] - a[0], b[2] - b[0]
    if min(size_a, size_b) <= 0 or not 0.67 <= size_a / size_b <= 1.5:
        return 0.0
    ca = np.array([(a[1] + a[3]) / 2, (a[0] + a[2]) / 2])
    cb = np.array([(b[1] + b[3]) / 2, (b[0] + b[2]) / 2])
    dist = float(np.linalg.norm(ca - cb)) / max(size_a, size_b)
    return 0.29 * (1 - dist / 0.6) if dist < 0.6 else 0.0


def link_tracks(frames: list[list[Face]]) -> list[Track]:
    """`frames`: the faces of each sampled frame in time order. Sets `face.track` and returns the tracks.
    A face links to a track seen in the previous sample of the same shot; each track takes at most one
    face per frame (greedy by link score)."""
    tracks: list[Track] = []
    active: list[int] = []  # tracks seen in the previous sampled frame
    for faces in frames:
        if not faces:
            active = []
            continue
        shot = faces[0].shot
        candidates = [(t, k) for t in active if tracks[t].shot == shot for k in range(len(faces))]
        scored = sorted(((_near(tracks[t].faces[-1].box, faces[k].box), t, k) for t, k in candidates),
                        reverse=True)
        used_t: set[int] = set()
        for score, t, k in scored:
            if score <= 0 or t in used_t or faces[k].track >= 0:
                continue
            faces[k].track = t
            tracks[t].faces.append(faces[k])
            used_t.add(t)
        for face in faces:
            if face.track < 0:
                face.track = len(tracks)
                tracks.append(Track(shot, [face]))
        active = [f.track for f in faces]
    return tracks


def faces_to_encode(track: Track, per_track: int = 3) -> list[Face]:
    """The best encodable face of each of up to `per_track` equal stretches of the track, so that a
    track that wrongly spans two people still shows both."""
    usable = [f for f in track.faces if f.encodable]
    if not usable:
        return []
    k = min(per_track, len(usable))
    chunks = np.array_split(np.arange(len(usable)), k)
    return [max((usable[i] for i in chunk), key=lambda f: f.quality) for chunk in chunks if len(chunk)]


def group_people(faces: list[Face], threshold: float) -> int:
    """Agglomerative average-linkage grouping of the encoded `faces` (each with `.encoding`) into people;
    faces of one frame never share a person. Sets `face.person` and returns the number of people."""
    n = len(faces)
    if n == 0:
        return 0
    x = np.stack([f.encoding for f in faces])  # type: ignore[misc]
    dist = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    pairs = {(i, j): float(dist[i, j]) for i in range(n) for j in range(i + 1, n)}
    same_frame = [(i, j) for i in range(n) for j in range(i + 1, n) if faces[i].frame == faces[j].frame]
    labels = average_linkage(n, pairs, threshold, same_frame)
    for face, label in zip(faces, labels, strict=True):
        face.person = label
    return max(labels) + 1


def attribute_detections(tracks: list[Track]) -> None:
    """Gives every face without an encoding the person of the nearest-in-time encoded face of its track
    (faces of tracks with no encoded face stay at person -1: seen, not identified)."""
    for track in tracks:
        known = [f for f in track.faces if f.encoding is not None and f.person >= 0]
        if not known:
            continue
        for face in track.faces:
            if face.encoding is None:
                face.person = min(known, key=lambda k: abs(k.timestamp_s - face.timestamp_s)).person
