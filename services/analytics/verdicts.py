"""One plain-words verdict per influencer: where its 95% interval of mean performance lies against the
average video. Pure: numbers in, a word out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DRIVES = "drives engagement"
BELOW = "below average"
UNCLEAR = "not distinguishable"
TOO_FEW = "too few videos"
VERDICTS = (DRIVES, BELOW, UNCLEAR, TOO_FEW)

# A verdict needs an interval from the influencer's own videos: the std of one video is undefined, so
# stats.influencer_stats borrows the pooled std for it, which says nothing about this influencer.
MIN_VIDEOS_FOR_VERDICT = 2


def verdict(videos: int, ci_low: float, ci_high: float, overall_mean: float,
            min_videos: int = MIN_VIDEOS_FOR_VERDICT) -> str:
    """DRIVES when the interval [ci_low, ci_high] lies wholly above `overall_mean` (the mean of all
    scored videos, same units as performance), BELOW when wholly below, UNCLEAR when it touches or
    contains it, TOO_FEW under `min_videos` videos or when a bound is not a finite number."""
    if videos < min_videos or not all(math.isfinite(v) for v in (ci_low, ci_high, overall_mean)):
        return TOO_FEW
    if ci_low > overall_mean:
        return DRIVES
    if ci_high < overall_mean:
        return BELOW
    return UNCLEAR


def verdicts(stats: pd.DataFrame, overall_mean: float, min_videos: int = MIN_VIDEOS_FOR_VERDICT) -> pd.Series:
    """verdict() of each row of a frame with columns videos, ci_low, ci_high; same index, name "verdict"."""
    words = [
        verdict(int(n), float(lo), float(hi), overall_mean, min_videos)
        for n, lo, hi in zip(stats["videos"], stats["ci_low"], stats["ci_high"], strict=True)
    ]
    return pd.Series(np.array(words, dtype=object), index=stats.index, name="verdict", dtype=object)
