"""Each influencer's mean performance, shrunk toward the average video, with one interval rule for any number
of videos. Pure numpy/scipy: arrays in, arrays out.

The model (normal-normal empirical Bayes): a video of influencer i scores theta_i + noise, noise with one
within-influencer variance sigma^2 shared by everyone (pooled over influencers with 2+ videos), and the
theta_i spread around the mean of all scored videos mu with a between-influencer variance tau^2 (method of
moments: the variance of the influencer means, less the part sampling noise explains). Given an influencer's
n videos with mean m, theta_i is normal with

    mean  mu + B (m - mu),   variance  B sigma^2 / n,   B = tau^2 / (tau^2 + sigma^2 / n)

so the interval narrows as n grows, for everyone alike (a 1-video influencer never gets a narrower interval
than a 2-video one), and an influencer seen in few videos is pulled hardest toward the average. The interval
uses Student's t with the pooled degrees of freedom (sigma^2 is estimated), and is clipped to the score's range
(services/common/scores.py): a score is never negative, so neither is a bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from services.common.scores import MAX_SCORE, MIN_SCORE


@dataclass(frozen=True, eq=False)
class Estimates:
    """One entry per influencer, in the input order, in score units. `low`/`high`: the clipped interval of the
    true mean (NaN under `min_videos` videos: too few for one); `p_value`: two-sided test of "their true mean
    is the average video's" (NaN under `min_videos`). `sigma2`/`tau2`: within/between variances (score
    units squared), `dof`: degrees of freedom of sigma2."""

    shrunken: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray
    overall_mean: float
    sigma2: float
    tau2: float
    dof: int


def pooled_variance(n: np.ndarray, std: np.ndarray, all_perf: np.ndarray) -> tuple[float, int]:
    """Within-influencer variance pooled over influencers with 2+ videos (`std` with ddof=1), and its
    degrees of freedom. Falls back to the variance of all videos when nobody has two videos; (0, 0) with
    fewer than two videos in all."""
    dof = np.asarray(n, dtype=float) - 1
    total = int(dof[dof > 0].sum())
    if total > 0:
        return float((dof[dof > 0] * np.asarray(std, dtype=float)[dof > 0] ** 2).sum() / total), total
    if len(all_perf) > 1:
        return float(np.var(all_perf, ddof=1)), len(all_perf) - 1
    return 0.0, 0


def between_variance(means: np.ndarray, n: np.ndarray, sigma2: float, total_var: float) -> float:
    """tau^2 by the method of moments: the spread of influencer means is the true spread plus sampling noise
    (sigma^2 / n on average). Floored at 1% of the variance of all videos, so that a few influencers that
    happen to look alike do not all collapse onto the average."""
    between = float(np.var(means, ddof=1)) if len(means) > 1 else 0.0
    noise = float(np.mean(sigma2 / np.asarray(n, dtype=float))) if len(means) else 0.0
    scale = total_var if np.isfinite(total_var) and total_var > 0 else sigma2
    return max(between - noise, 0.01 * scale, 1e-12)


def score_range(all_perf: np.ndarray) -> tuple[float, float]:
    """The range the score rule allows: [MIN_SCORE, MAX_SCORE]; rows written with negative scores (synthetic
    data centred on zero, never input) widen it to [-MAX_SCORE, MAX_SCORE]."""
    negative = len(all_perf) > 0 and float(np.min(all_perf)) < MIN_SCORE
    return (-MAX_SCORE if negative else MIN_SCORE), MAX_SCORE


def shrinkage_estimates(n: np.ndarray, means: np.ndarray, stds: np.ndarray, all_perf: np.ndarray,
                        level: float = 0.95, min_videos: int = 2) -> Estimates:
    """Shrunken means, `level` intervals and p-values of influencers with `n` scored videos of mean `means`
    and standard deviation `stds` (ddof=1, 0 for one video); `all_perf`: every scored video's score."""
    n = np.asarray(n, dtype=float)
    means = np.asarray(means, dtype=float)
    all_perf = np.asarray(all_perf, dtype=float)
    mu = float(all_perf.mean()) if len(all_perf) else 0.0
    sigma2, dof = pooled_variance(n, stds, all_perf)
    total_var = float(np.var(all_perf, ddof=1)) if len(all_perf) > 1 else float("nan")
    tau2 = between_variance(means, n, sigma2, total_var)
    noise = sigma2 / n
    weight = tau2 / (tau2 + noise)  # B: 1 when sigma^2 is 0 (the mean is exact)
    shrunken = mu + weight * (means - mu)
    quantile = float(st.t.ppf(0.5 + level / 2, max(dof, 1)))
    half = quantile * np.sqrt(weight * noise)
    lowest, highest = score_range(all_perf)
    enough = n >= min_videos
    low = np.where(enough, np.clip(shrunken - half, lowest, highest), np.nan)
    high = np.where(enough, np.clip(shrunken + half, lowest, highest), np.nan)
    return Estimates(shrunken, low, high, np.where(enough, _p_values(means - mu, noise, dof), np.nan), mu,
                     sigma2, tau2, dof)


def _p_values(gap: np.ndarray, noise: np.ndarray, dof: int) -> np.ndarray:
    """Two-sided t-test of each raw mean against the average video, with the pooled variance. With no noise
    at all (every video alike) a gap is certain and no gap is none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(gap) / np.sqrt(noise)
    p = 2 * st.t.sf(t, max(dof, 1))
    return np.where(noise > 0, p, np.where(gap != 0, 0.0, 1.0))
