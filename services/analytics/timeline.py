"""Geometry of an appearance's timeline: segments of one video turned into bars on a track of fixed width.
Pure: numbers in, numbers out; the page draws them as an inline SVG."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

WIDTH = 1000.0  # track width in SVG user units
MIN_BAR = 10.0  # a segment of one sampled frame still shows (user units: 1% of the track)


@dataclass(frozen=True)
class Bar:
    """One segment on the track: `x`, `width` and `best_x` in user units of a WIDTH-wide track; the times
    it stands for in seconds from the start of the video."""

    x: float
    width: float
    best_x: float
    start_s: float
    end_s: float
    best_s: float


@dataclass(frozen=True)
class Timeline:
    """The bars of one video, by start; `duration_s` is the length the track stands for; `approximate`
    when the bars come from first/last seen alone (appearances stored before segments were kept)."""

    bars: list[Bar]
    duration_s: float
    approximate: bool = False


def timeline(segments: Iterable[tuple[float, float, float]], duration_s: float, first_seen_s: float = 0.0,
             last_seen_s: float = 0.0) -> Timeline:
    """Bars for `segments` ((start_s, end_s, best_s), seconds) on a track standing for `duration_s`
    seconds. With no segments, one approximate bar from first to last seen (best at its middle). A duration
    that is unknown (0, negative, not finite) or shorter than the segments becomes their latest end.
    Times are clipped to the track; a bar is at least MIN_BAR wide and stays inside the track."""
    spans = [(s, e, b) for s, e, b in segments if all(math.isfinite(v) for v in (s, e, b))]
    approximate = not spans
    if approximate:
        if not (math.isfinite(first_seen_s) and math.isfinite(last_seen_s)) or last_seen_s < first_seen_s:
            return Timeline([], _known(duration_s), approximate=True)
        spans = [(first_seen_s, last_seen_s, (first_seen_s + last_seen_s) / 2)]
    latest = max(max(s, e) for s, e, _ in spans)
    length = max(_known(duration_s), latest)
    if length <= 0:
        length = 1.0  # everything at 0 s: bars at the start of a one-second track
    bars = [_bar(s, e, b, length) for s, e, b in sorted(spans)]
    return Timeline(bars, length, approximate)


def _known(duration_s: float) -> float:
    return duration_s if math.isfinite(duration_s) and duration_s > 0 else 0.0


def _bar(start_s: float, end_s: float, best_s: float, length: float) -> Bar:
    start_s, end_s = sorted((_clip(start_s, length), _clip(end_s, length)))
    best_s = min(max(_clip(best_s, length), start_s), end_s)
    scale = WIDTH / length
    width = max((end_s - start_s) * scale, MIN_BAR)
    x = min(start_s * scale, WIDTH - width)
    return Bar(round(x, 2), round(width, 2), round(best_s * scale, 2), start_s, end_s, best_s)


def _clip(t: float, length: float) -> float:
    return min(max(t, 0.0), length)
