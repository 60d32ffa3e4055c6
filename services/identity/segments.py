"""When one person is on screen in one video: runs of sampled frames where they were seen (segments), each
with the time of its best face. Pure: sightings in, segments out."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# One missed sampled frame (a blink, a turned head) does not split a segment; two do.
GAP_INTERVALS = 2.5
# The gap when the sampling interval is unknown (frames sent without their span).
FALLBACK_GAP_S = 1.5


@dataclass(frozen=True)
class Sighting:
    """A face of the person in one sampled frame: its time and span (seconds the frame stands for, until
    the next sampled frame; 0 when unknown) and its quality in [0, 1]."""

    timestamp_s: float
    span_s: float
    quality: float


@dataclass(frozen=True)
class Segment:
    """Seen from start_s to end_s (seconds from the start of the video); best_s is the time of the
    best-quality face in it, best_quality that quality."""

    start_s: float
    end_s: float
    best_s: float
    best_quality: float


def max_gap_s(sightings: Sequence[Sighting]) -> float:
    """The largest step between consecutive sightings' times that stays one segment: GAP_INTERVALS sampling
    intervals (the median span of the sightings), FALLBACK_GAP_S when no span is known."""
    spans = [s.span_s for s in sightings if s.span_s > 0]
    return GAP_INTERVALS * statistics.median(spans) if spans else FALLBACK_GAP_S


def seconds_on_screen(sightings: Iterable[Sighting]) -> float:
    """Seconds the sightings cover: the length of the union of their frames' times, each from timestamp_s for
    span_s. Sightings of one time, or whose spans overlap (frames sent with equal or out-of-order times, two
    faces of the person in one frame), count that time once: a sum of spans counted it twice."""
    total, covered_to = 0.0, -math.inf
    for s in sorted(sightings, key=lambda s: s.timestamp_s):
        end = s.timestamp_s + max(s.span_s, 0.0)
        if end > covered_to:
            total += end - max(s.timestamp_s, covered_to)
            covered_to = end
    return total


def segments_of(sightings: Iterable[Sighting]) -> list[Segment]:
    """The segments of one person's sightings (any order), by start time. A step between consecutive
    sightings' times larger than max_gap_s starts a new segment; a segment ends at its last sighting's time
    plus that frame's span."""
    ordered = sorted(sightings, key=lambda s: s.timestamp_s)
    if not ordered:
        return []
    gap = max_gap_s(ordered)
    runs: list[list[Sighting]] = [[ordered[0]]]
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if cur.timestamp_s - prev.timestamp_s > gap:
            runs.append([])
        runs[-1].append(cur)
    return [_segment(run) for run in runs]


def _segment(run: list[Sighting]) -> Segment:
    best = max(run, key=lambda s: s.quality)  # the first of equals: max keeps the earliest
    end = max(s.timestamp_s + max(s.span_s, 0.0) for s in run)
    return Segment(run[0].timestamp_s, end, best.timestamp_s, best.quality)


def merge_segments(a: Iterable[Segment], b: Iterable[Segment]) -> list[Segment]:
    """Two people of one video found to be one influencer: their segments together, overlapping ones joined
    (the joined segment keeps the better best face), by start time."""
    out: list[Segment] = []
    for seg in sorted([*a, *b], key=lambda s: (s.start_s, s.end_s)):
        if out and seg.start_s <= out[-1].end_s:
            last = out[-1]
            best = seg if seg.best_quality > last.best_quality else last
            out[-1] = Segment(last.start_s, max(last.end_s, seg.end_s), best.best_s, best.best_quality)
        else:
            out.append(seg)
    return out


def to_flat(segments: Iterable[Segment]) -> list[float]:
    """Segments as a flat list of floats, four per segment (start_s, end_s, best_s, best_quality): the form
    a face's payload keeps them in."""
    return [float(v) for s in segments for v in (s.start_s, s.end_s, s.best_s, s.best_quality)]


def from_flat(values: Sequence[float]) -> list[Segment]:
    """The inverse of to_flat; a trailing incomplete group is dropped."""
    return [Segment(*(float(v) for v in values[i:i + 4])) for i in range(0, len(values) - len(values) % 4, 4)]
