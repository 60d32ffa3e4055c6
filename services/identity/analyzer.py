"""Analysis of one video's sampled frames: detect, judge quality, track, encode the best few faces of
each track, and group them into the people of the video. Runs in a worker process; no store access."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import cv2
import numpy as np

from services.identity.faces import FaceModel, landmark_points
from services.identity.quality import assess, square_crop
from services.identity.tracking import Face, attribute_detections, faces_to_encode, group_people, link_tracks

BASE_SHORT_SIDE = 360  # detection resolution (short side, px); HOG finds faces of ~80 px there
FINE_MIN_FACE = 60  # px at full resolution: the retry resolution still finds faces this small
CNN_SHORT_SIDE = 200  # the CNN fallback runs on frames this small (short side, px): faces of ~160 px at 720p


@dataclass(frozen=True)
class FrameIn:
    index: int
    timestamp_s: float
    shot: int
    span_s: float
    image: bytes  # JPEG/PNG


@dataclass
class PersonObservation:
    """One person within one video: the encodings of their best faces and where they were seen."""

    person: int
    encodings: np.ndarray  # (n, 128)
    qualities: list[float]
    timestamps: list[float]
    boxes: list[tuple[int, int, int, int]]
    first_seen_s: float
    last_seen_s: float
    faces: int
    screen_time_s: float
    best_face: bytes
    best_quality: float
    cooccurs: set[int] = field(default_factory=set)


@dataclass
class VideoAnalysis:
    people: list[PersonObservation]
    frames: int
    faces_detected: int
    faces_encoded: int
    stage_seconds: dict[str, float]


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now


def analyze_frames(model: FaceModel, frames: list[FrameIn], within_video_threshold: float,
                   per_track: int = 3) -> VideoAnalysis:
    clock = _Clock()
    per_frame: list[list[Face]] = []
    images: dict[int, np.ndarray] = {}
    rgb_cache: dict[int, np.ndarray] = {}
    plans: dict[int, _Plan] = {}
    shapes: dict[int, object] = {}
    detected = 0
    for fr in frames:
        t0 = time.perf_counter()
        bgr = cv2.imdecode(np.frombuffer(fr.image, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            per_frame.append([])
            continue
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        t0 = clock.lap("decode", t0)
        dets = _detect(model, gray, bgr, fr.shot, plans)
        t0 = clock.lap("detect", t0)
        faces = []
        if dets:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            for box, score in dets:
                shape = model.landmarks(rgb, box)
                q = assess(gray, box, landmark_points(shape), score)
                face = Face(fr.index, fr.timestamp_s, fr.span_s, fr.shot, box, q.score, q.encodable)
                shapes[id(face)] = shape
                faces.append(face)
            images[fr.index] = bgr
            rgb_cache[fr.index] = rgb
            detected += len(faces)
            clock.lap("landmarks", t0)
        per_frame.append(faces)
    tracks = link_tracks(per_frame)
    chosen = [f for tr in tracks for f in faces_to_encode(tr, per_track)]
    t0 = time.perf_counter()
    by_frame: dict[int, list[Face]] = defaultdict(list)
    for f in chosen:
        by_frame[f.frame].append(f)
    for index, fs in by_frame.items():
        vecs = model.encode(rgb_cache[index], [shapes[id(f)] for f in fs])
        for f, v in zip(fs, vecs, strict=True):
            f.encoding = v
    t0 = clock.lap("encode", t0)
    group_people(chosen, within_video_threshold)
    attribute_detections(tracks)
    people = _people(per_frame, chosen, images)
    clock.lap("group", t0)
    return VideoAnalysis(people, len(frames), detected, len(chosen), dict(clock.seconds))


@dataclass(frozen=True)
class _Plan:
    """How a shot is searched: HOG at `scale`, or the CNN detector at `scale`."""

    cnn: bool
    scale: float


Found = list[tuple[tuple[int, int, int, int], float]]


def _detect(model: FaceModel, gray: np.ndarray, bgr: np.ndarray, shot: int, plans: dict[int, _Plan]) -> Found:
    """The first sample of a shot is searched with HOG at a resolution that finds faces of ~80 px at 720p,
    then finer (FINE_MIN_FACE px), then with the CNN detector on a reduced frame (turned or low-contrast
    faces); the first that finds a face sets the shot's plan. Later samples follow the plan, coarse HOG
    when every face was big, and fall back to fine HOG when the plan finds nothing."""
    short = min(gray.shape)
    coarse = _Plan(False, min(1.0, BASE_SHORT_SIDE / short))
    fine = _Plan(False, min(1.0, 720.0 / short))
    plan = plans.get(shot)
    if plan is not None:
        found = _detect_with(model, gray, bgr, plan)
        if not found and plan == coarse:
            found = _detect_with(model, gray, bgr, fine)
        return found
    for plan in (fine, _Plan(False, fine.scale * 80.0 / FINE_MIN_FACE), _Plan(True, CNN_SHORT_SIDE / short)):
        found = _detect_with(model, gray, bgr, plan)
        if found:
            break
    else:
        plans[shot] = fine
        return []
    smallest = min(b[2] - b[0] for b, _ in found)
    plans[shot] = plan if plan.cnn else (coarse if smallest * coarse.scale >= 100 else fine)
    return found


def _detect_with(model: FaceModel, gray: np.ndarray, bgr: np.ndarray, plan: _Plan) -> Found:
    source = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if plan.cnn else gray
    if abs(plan.scale - 1.0) > 1e-3:
        interp = cv2.INTER_AREA if plan.scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(source, None, fx=plan.scale, fy=plan.scale, interpolation=interp)
    else:
        small = source
    h, w = gray.shape
    out = []
    for d in (model.detect_cnn(small) if plan.cnn else model.detect(small)):
        top, right, bottom, left = (int(round(v / plan.scale)) for v in d.box)
        box = (max(0, top), min(w, right), min(h, bottom), max(0, left))
        out.append((box, d.score))
    return drop_containers(out)


def drop_containers(found: Found) -> Found:
    """Drops a box that holds a much smaller face at its middle: a face printed or shown inside a larger
    blurred copy (posters, screens, picture-in-picture backgrounds) is one face, not two people."""
    keep = []
    for box, score in found:
        top, right, bottom, left = box
        nested = any(
            (b[2] - b[0]) < 0.6 * (bottom - top)
            and left < (b[1] + b[3]) / 2 < right and top < (b[0] + b[2]) / 2 < bottom
            for b, _ in found if b != box)
        if not nested:
            keep.append((box, score))
    return keep


def _people(per_frame: list[list[Face]], encoded: list[Face], images: dict[int, np.ndarray]) -> list[PersonObservation]:
    seen: dict[int, list[Face]] = defaultdict(list)
    for faces in per_frame:
        for f in faces:
            if f.person >= 0:
                seen[f.person].append(f)
    cooccur: dict[int, set[int]] = defaultdict(set)
    for faces in per_frame:
        persons = {f.person for f in faces if f.person >= 0}
        for p in persons:
            cooccur[p] |= persons - {p}
    people = []
    for p in sorted(seen):
        mine = [f for f in encoded if f.person == p]
        if not mine:
            continue
        best = max(seen[p], key=lambda f: f.quality)
        crop = square_crop(images[best.frame], best.box)
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        frames_seen = {f.frame: f.span_s for f in seen[p]}
        people.append(PersonObservation(
            person=p,
            encodings=np.stack([f.encoding for f in mine]),  # type: ignore[misc]
            qualities=[f.quality for f in mine],
            timestamps=[f.timestamp_s for f in mine],
            boxes=[f.box for f in mine],
            first_seen_s=min(f.timestamp_s for f in seen[p]),
            last_seen_s=max(f.timestamp_s + f.span_s for f in seen[p]),
            faces=len(seen[p]),
            screen_time_s=float(sum(frames_seen.values())),
            best_face=jpeg.tobytes() if ok else b"",
            best_quality=best.quality,
            cooccurs=cooccur[p],
        ))
    return people
