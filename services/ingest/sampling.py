"""Which decoded frames to send for face analysis: pure logic, fed one tiny luma thumbnail per frame.

A hard cut starts a new shot; the first frame of every shot is sampled, then one frame every
`interval_s` seconds while the shot lasts. Faces are tracked within a shot, so a cut is also where
tracking must restart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SampleDecision:
    sample: bool
    shot: int
    cut: bool


class ShotSampler:
    """Streaming shot detector and sampler.

    `cut_level` is the mean absolute luma difference (0-255) between consecutive frames above which a
    frame may be a cut; it must also exceed `cut_ratio` times the recent typical difference, so that
    fast motion or noise does not read as a cut.
    """

    def __init__(self, interval_s: float = 1.0, cut_level: float = 14.0, cut_ratio: float = 3.0) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.cut_level = cut_level
        self.cut_ratio = cut_ratio
        self._prev: np.ndarray | None = None
        self._typical = 0.0
        self._last_sample_t = -1e9
        self.shot = -1

    def feed(self, t: float, thumb: np.ndarray) -> SampleDecision:
        """`t`: the frame's time in seconds; `thumb`: a small float32 luma image (same shape every call)."""
        cut = False
        if self._prev is None:
            cut = True
        else:
            diff = float(np.mean(np.abs(thumb - self._prev)))
            cut = diff > self.cut_level and diff > self.cut_ratio * max(self._typical, 1.0)
            # Typical frame-to-frame change, slow to follow so that a cut does not raise it much.
            self._typical = 0.9 * self._typical + 0.1 * min(diff, self.cut_level)
        self._prev = thumb
        if cut:
            self.shot += 1
            self._last_sample_t = t
            return SampleDecision(True, self.shot, True)
        if t - self._last_sample_t >= self.interval_s - 1e-6:
            self._last_sample_t = t
            return SampleDecision(True, self.shot, False)
        return SampleDecision(False, self.shot, False)
