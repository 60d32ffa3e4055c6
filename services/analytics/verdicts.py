"""One plain-words verdict per influencer, with the false discovery rate controlled across all of them.
Pure: numbers in, words out.

Each influencer with enough videos gets a p-value: how surprising their mean would be if their true mean were
the average video's (services/analytics/intervals.py). Reading thirty of those at 5% each would call one or
two influencers "above average" by chance alone, so the p-values are adjusted together by Benjamini-Hochberg:
an influencer gets a directional verdict when its adjusted p-value (q-value) is at most FDR, which keeps the
expected share of wrong directional verdicts at most FDR (1 in 20). Benjamini-Hochberg holds for independent
or positively dependent tests; influencers who share videos are positively dependent, so it still holds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DRIVES = "drives engagement"
BELOW = "below average"
UNCLEAR = "not distinguishable"
TOO_FEW = "too few videos"
VERDICTS = (DRIVES, BELOW, UNCLEAR, TOO_FEW)

# One video has no spread of its own, so it can neither be tested nor given an interval.
MIN_VIDEOS_FOR_VERDICT = 2
# The false discovery rate: the expected share of "drives engagement" and "below average" verdicts that are
# wrong.
FDR = 0.05


def bh_adjust(p_values: np.ndarray | pd.Series) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order; NaN entries (not tested) stay NaN and do
    not count among the tests. q_(k) = min over j >= k of p_(j) m / j, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = len(tested)
    if m == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


def verdict(videos: int, mean: float, q_value: float, overall_mean: float, fdr: float = FDR,
            min_videos: int = MIN_VIDEOS_FOR_VERDICT) -> str:
    """DRIVES when the influencer's `mean` (score units) is above `overall_mean` (the mean of all scored
    videos) with q-value at most `fdr`, BELOW when below with the same, UNCLEAR otherwise; TOO_FEW under
    `min_videos` videos or when a number is not finite."""
    if videos < min_videos or not all(math.isfinite(v) for v in (mean, q_value, overall_mean)):
        return TOO_FEW
    if q_value <= fdr and mean > overall_mean:
        return DRIVES
    if q_value <= fdr and mean < overall_mean:
        return BELOW
    return UNCLEAR


def verdicts(stats: pd.DataFrame, overall_mean: float, fdr: float = FDR,
             min_videos: int = MIN_VIDEOS_FOR_VERDICT) -> pd.Series:
    """verdict() of each row of a frame with columns videos, mean, q_value; same index, name "verdict"."""
    words = [
        verdict(int(n), float(m), float(q), overall_mean, fdr, min_videos)
        for n, m, q in zip(stats["videos"], stats["mean"], stats["q_value"], strict=True)
    ]
    return pd.Series(np.array(words, dtype=object), index=stats.index, name="verdict", dtype=object)


def fdr_sentence(fdr: float = FDR) -> str:
    """The one sentence the page says about the verdicts' error rate."""
    return (f"Verdicts are read across all influencers at once (Benjamini–Hochberg): at most about 1 in "
            f"{round(1 / fdr)} of the “drives engagement” and “below average” verdicts is expected to be wrong.")
