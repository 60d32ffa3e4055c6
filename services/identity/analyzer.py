"""Analysis of one video's sampled frames: detect, judge quality, track, encode the best few faces of
each track, and group them into the people of the video. Runs in a worker process; no store access."""

from __future__ import annotations

import struct
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from services.common.stage_clock import StageClock
from services.identity.detection import ShotDetector
from services.identity.faces import FaceModel
from services.identity.quality import square_crop
from services.identity.segments import Segment, Sighting, seconds_on_screen, segments_of
from services.identity.tracking import Face, attribute_detections, faces_to_encode, group_people, link_tracks

_HEADER = struct.Struct("<qdqd")  # a FrameIn as a spool record: index, timestamp_s, shot, span_s, then the image


@dataclass(frozen=True)
class FrameIn:
    index: int
    timestamp_s: float
    shot: int
    span_s: float
    image: bytes  # JPEG/PNG

    def record(self) -> bytes:
        """The frame as one record of a spool (services/common/spool.py), read back by `from_record`."""
        return _HEADER.pack(self.index, self.timestamp_s, self.shot, self.span_s) + self.image

    @staticmethod
    def from_record(record: bytes) -> FrameIn:
        index, timestamp_s, shot, span_s = _HEADER.unpack_from(record)
        return FrameIn(index, timestamp_s, shot, span_s, record[_HEADER.size:])


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
    segments: list[Segment] = field(default_factory=list)  # from every sampled frame the person was seen in


@dataclass
class VideoAnalysis:
    people: list[PersonObservation]
    frames: int
    faces_detected: int
    faces_encoded: int
    stage_seconds: dict[str, float]  # wall seconds by stage; CPU seconds under "<stage>.cpu" (stage_clock.py)
    # When each phase ran, as (start, end) in ns since the epoch (time.time_ns: the worker process and the
    # server share the clock), so that the server can show them as spans: detect (decode and detect of every
    # frame), encode, group.
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)


def analyze_frames(model: FaceModel, frames: Iterable[FrameIn], within_video_threshold: float,
                   per_track: int = 3) -> VideoAnalysis:
    clock = StageClock()
    per_frame: list[list[Face]] = []
    detector = ShotDetector(model, clock)
    # What each face needs later, so that no frame is kept past its own detection: memory grows by a few
    # KB a face, not by the frame (MBs), whatever the video's length. The chip is what the encoder would
    # cut from the frame (the same numbers come out); the crop is the face's picture, should it be the best.
    chips: dict[int, np.ndarray] = {}
    crops: dict[int, bytes] = {}
    detected = count = 0
    began = time.time_ns()
    for fr in frames:  # one at a time: a long video's frames come from a file (spool.py), never all at once
        count += 1
        t0 = clock.mark()
        bgr = cv2.imdecode(np.frombuffer(fr.image, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            per_frame.append([])
            continue
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        t0 = clock.lap("decode", t0)
        faces = []
        for d in detector.detect(gray, rgb, fr.shot):
            face = Face(fr.index, fr.timestamp_s, fr.span_s, fr.shot, d.box, d.quality.score, d.quality.encodable)
            if face.encodable:
                chips[id(face)] = model.chip(rgb, d.shape)
            crops[id(face)] = face_jpeg(bgr, d.box)
            faces.append(face)
        detected += len(faces)
        clock.lap("detect", t0)
        per_frame.append(faces)
    tracks = link_tracks(per_frame)
    chosen = [f for tr in tracks for f in faces_to_encode(tr, per_track)]
    detected_at = time.time_ns()
    t0 = clock.mark()
    for f, v in zip(chosen, model.encode_chips([chips[id(f)] for f in chosen]), strict=True):
        f.encoding = v
    t0 = clock.lap("encode", t0)
    encoded_at = time.time_ns()
    group_people(chosen, within_video_threshold)
    attribute_detections(tracks)
    people = _people(per_frame, chosen, crops)
    clock.lap("group", t0)
    phases = {"detect": (began, detected_at), "encode": (detected_at, encoded_at),
              "group": (encoded_at, time.time_ns())}
    return VideoAnalysis(people, count, detected, len(chosen), clock.merged(), phases)


def _people(per_frame: list[list[Face]], encoded: list[Face], crops: dict[int, bytes]) -> list[PersonObservation]:
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
        people.append(PersonObservation(
            person=p,
            encodings=np.stack([f.encoding for f in mine]),  # type: ignore[misc]
            qualities=[f.quality for f in mine],
            timestamps=[f.timestamp_s for f in mine],
            boxes=[f.box for f in mine],
            first_seen_s=min(f.timestamp_s for f in seen[p]),
            last_seen_s=max(f.timestamp_s + f.span_s for f in seen[p]),
            faces=len(seen[p]),
            screen_time_s=seconds_on_screen(Sighting(f.timestamp_s, f.span_s, f.quality) for f in seen[p]),
            best_face=crops[id(best)],
            best_quality=best.quality,
            cooccurs=cooccur[p],
            segments=segments_of(Sighting(f.timestamp_s, f.span_s, f.quality) for f in seen[p]),
        ))
    return people


def face_jpeg(bgr: np.ndarray, box: tuple[int, int, int, int]) -> bytes:
    """The face's picture: a square crop around `box`, as JPEG (empty if it cannot be encoded)."""
    ok, jpeg = cv2.imencode(".jpg", square_crop(bgr, box), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return jpeg.tobytes() if ok else b""
