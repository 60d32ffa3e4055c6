"""Which decoded frames to send for face analysis: pure logic, fed one tiny luma thumbnail per frame.

A hard cut starts a new shot; the first frame of every shot is sampled, then one frame every
`interval_s` seconds while the shot lasts. Faces are tracked within a shot, so a cut is also where
tracking must restart.

Flicker (strobe lights, flash frames, a video alternating black and white) looks like a cut on every
frame, and would make every frame a shot and every shot a sample. Two rules bound that work:
- a shot lasts at least `min_shot_s`: a change inside that time starts the next shot only once the
  minimum has passed (so a short shot is never merged into the one after it);
- shot starts are sampled at most once per `interval_s` on average, with a burst of `burst` above that; a
  shot that starts when that budget is spent gets its first sample as soon as the budget allows.
Samples therefore number at most about `burst + 2 * duration / interval_s` for any video, and about
`burst + duration / interval_s` for a flickering one (no shot there lasts long enough for a second sample).
A video with no more than one cut per interval on average is sampled exactly as without the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS_S = 1e-6  # timestamps are float seconds; this absorbs their rounding


@dataclass(frozen=True)
class SampleDecision:
    sample: bool  # send this frame for face analysis
    shot: int  # the shot this frame belongs to (0, 1, ...; a shot never sampled leaves a gap in the numbers)
    cut: bool  # this frame starts a new shot


class ShotSampler:
    """Streaming shot detector and sampler.

    `cut_level` is the mean absolute luma difference (0-255) between consecutive frames above which a
    frame may be a cut; it must also exceed `cut_ratio` times the recent typical difference, so that
    fast motion or noise does not read as a cut. A thumbnail of another shape than the previous one (the
    resolution changed mid-stream) always starts a new shot at once. `min_shot_s` and `burst` bound the
    work flicker causes (see the module docstring); all times are seconds.
    """

    def __init__(self, interval_s: float = 1.0, cut_level: float = 14.0, cut_ratio: float = 3.0,
                 min_shot_s: float = 0.15, burst: int = 3) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if min_shot_s < 0 or burst < 1:
            raise ValueError("min_shot_s must not be negative and burst must be at least 1")
        self.interval_s = interval_s
        self.cut_level = cut_level
        self.cut_ratio = cut_ratio
        self.min_shot_s = min_shot_s
        self.burst = float(burst)
        self._prev: np.ndarray | None = None
        self._typical = 0.0
        self._last_sample_t = -1e9
        self._shot_start_t = -1e9
        self._pending_cut = False  # a cut seen inside the current shot's minimum length
        self._shot_sampled = False
        self._budget = self.burst  # shot starts that may be sampled now
        self._budget_t: float | None = None
        self.shot = -1

    def feed(self, t: float, thumb: np.ndarray) -> SampleDecision:
        """`t`: the frame's time in seconds (never decreasing); `thumb`: a small float32 luma image."""
        cut = self._is_cut(t, thumb)
        self._prev = thumb
        self._refill(t)
        if cut:
            self.shot += 1
            self._shot_start_t = t
            self._pending_cut = False
            self._shot_sampled = False
        if not self._shot_sampled:
            if self._budget < 1.0 - EPS_S:
                return SampleDecision(False, self.shot, cut)
            self._budget -= 1.0
            self._shot_sampled = True
        elif t - self._last_sample_t < self.interval_s - EPS_S:
            return SampleDecision(False, self.shot, cut)
        self._last_sample_t = t
        return SampleDecision(True, self.shot, cut)

    def _is_cut(self, t: float, thumb: np.ndarray) -> bool:
        if self._prev is None or self._prev.shape != thumb.shape:
            return True
        diff = float(np.mean(np.abs(thumb - self._prev)))
        changed = diff > self.cut_level and diff > self.cut_ratio * max(self._typical, 1.0)
        # Typical frame-to-frame change, slow to follow so that a cut does not raise it much.
        self._typical = 0.9 * self._typical + 0.1 * min(diff, self.cut_level)
        if t - self._shot_start_t >= self.min_shot_s - EPS_S:
            return changed or self._pending_cut
        self._pending_cut = self._pending_cut or changed
        return False

    def _refill(self, t: float) -> None:
        if self._budget_t is not None:
            self._budget = min(self.burst, self._budget + max(0.0, t - self._budget_t) / self.interval_s)
        self._budget_t = t
