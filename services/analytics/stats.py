"""Per-influencer performance statistics. Pure pandas/numpy/scipy/sklearn: frames in, frames out.

Inputs are the store's frames: `videos` (video_id, performance, ...) with one row per DONE video and
`appearances` (video_id, influencer_id, screen_time_s, ...). A video counts once per influencer however
many appearance rows or URLs it has; videos without a performance score are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as st

from services.analytics.ridge import fit_ridge_loo
from services.analytics.verdicts import MIN_VIDEOS_FOR_VERDICT, verdicts

STATS_COLUMNS = [
    "influencer_id", "videos", "mean", "median", "std", "min", "max", "ci_low", "ci_high",
    "shrunken_mean", "consistency", "screen_time_s", "attributed_effect", "verdict",
]
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)
CONFIDENCE = 0.95


def scored_videos(videos: pd.DataFrame) -> pd.DataFrame:
    """Videos with a finite performance, one row per video_id (columns video_id, performance)."""
    if videos.empty:
        return pd.DataFrame({"video_id": pd.Series(dtype=str), "performance": pd.Series(dtype=float)})
    frame = videos[["video_id", "performance"]].astype({"performance": "float64"})
    frame = frame[np.isfinite(frame["performance"])]
    return frame.drop_duplicates("video_id").reset_index(drop=True)


def presences(videos: pd.DataFrame, appearances: pd.DataFrame) -> pd.DataFrame:
    """One row per (video, influencer) among scored videos: video_id, influencer_id, screen_time_s,
    performance."""
    scored = scored_videos(videos)
    if appearances.empty or scored.empty:
        return pd.DataFrame({
            "video_id": pd.Series(dtype=str), "influencer_id": pd.Series(dtype=str),
            "screen_time_s": pd.Series(dtype=float), "performance": pd.Series(dtype=float),
        })
    pairs = (
        appearances.groupby(["video_id", "influencer_id"], as_index=False)["screen_time_s"].sum()
        .astype({"screen_time_s": "float64"})
    )
    return pairs.merge(scored, on="video_id", how="inner")


@dataclass(frozen=True, eq=False)
class Indicators:
    """Who is in which scored video. `x`: sparse 0/1, one row per scored video (in `video_ids` order), one
    column per influencer (`columns`, sorted ids); `y`: the videos' performance in the same order.
    Videos with nobody in them stay (all-zero rows)."""

    x: sparse.csr_matrix
    y: np.ndarray
    video_ids: np.ndarray
    columns: np.ndarray

    def members(self, row: int) -> list[str]:
        """The influencer ids in one row, sorted."""
        return self.columns[self.x.indices[self.x.indptr[row]:self.x.indptr[row + 1]]].tolist()


def indicators(videos: pd.DataFrame, appearances: pd.DataFrame) -> Indicators:
    """The design of the attribution and prediction models, built sparse: it has a few ones per row, and
    dense it would be videos x influencers floats (800 MB at 100,000 x 1,000)."""
    scored = scored_videos(videos)
    pairs = presences(videos, appearances)
    columns = np.sort(pairs["influencer_id"].unique().astype(object))
    rows = pd.Index(scored["video_id"]).get_indexer(pairs["video_id"])
    cols = np.searchsorted(columns, pairs["influencer_id"].to_numpy(dtype=object))
    x = sparse.csr_matrix((np.ones(len(pairs)), (rows, cols)), shape=(len(scored), len(columns)))
    x.sort_indices()
    return Indicators(x, scored["performance"].to_numpy(dtype=float), scored["video_id"].to_numpy(dtype=object),
                      columns)


def attribution(videos: pd.DataFrame, appearances: pd.DataFrame) -> pd.Series:
    """Each influencer's own contribution to performance: the coefficient of its indicator in a ridge
    regression (alpha by leave-one-out CV) of performance on all indicators, relative to the intercept
    (a video with none of them). Indexed by influencer_id; zeros when there is too little data."""
    design = indicators(videos, appearances)
    index = pd.Index(design.columns)
    if len(index) == 0:
        return pd.Series(dtype=float, name="attributed_effect")
    if len(design.y) < 3 or float(np.var(design.y)) == 0.0:
        return pd.Series(0.0, index=index, name="attributed_effect")
    fit = fit_ridge_loo(design.x, design.y, RIDGE_ALPHAS)
    return pd.Series(fit.coef, index=index, name="attributed_effect")


def influencer_stats(videos: pd.DataFrame, appearances: pd.DataFrame) -> pd.DataFrame:
    """One row per influencer (columns STATS_COLUMNS), sorted by shrunken_mean descending.

    std uses ddof=1 (0 for one video); the 95% t-interval of one-video influencers uses the pooled
    within-influencer std, so their verdict (verdicts.verdict against the mean of all scored videos) is
    "too few videos": from MIN_VIDEOS_FOR_VERDICT videos the interval is their own. shrunken_mean is the
    empirical-Bayes estimate toward the mean of all scored videos, weight n / (n + sigma^2 / tau^2), tau^2 by
    the method of moments (floored).
    """
    pairs = presences(videos, appearances)
    if pairs.empty:
        return _empty_stats()
    all_perf = scored_videos(videos)["performance"]
    overall_mean, overall_median = float(all_perf.mean()), float(all_perf.median())
    grouped = pairs.groupby("influencer_id")
    out = grouped["performance"].agg(["count", "mean", "median", "std", "min", "max"])
    out = out.rename(columns={"count": "videos"})
    out["std"] = out["std"].fillna(0.0)
    out["screen_time_s"] = grouped["screen_time_s"].sum()
    out["consistency"] = grouped["performance"].agg(lambda p: float((p > overall_median).mean()))

    sigma, pooled_df = _pooled_std(out, all_perf)
    n = out["videos"].to_numpy(dtype=float)
    own = n >= MIN_VIDEOS_FOR_VERDICT
    spread = np.where(own, out["std"].to_numpy(), sigma)
    dof = np.where(own, n - 1, max(pooled_df, 1))
    half = st.t.ppf(0.5 + CONFIDENCE / 2, dof) * spread / np.sqrt(n)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    out["shrunken_mean"] = _shrink(out["mean"].to_numpy(), n, sigma**2, overall_mean, float(all_perf.var()))

    effects = attribution(videos, appearances)
    out["attributed_effect"] = effects.reindex(out.index).fillna(0.0)
    out["verdict"] = verdicts(out, overall_mean)
    out = out.reset_index()
    out["videos"] = out["videos"].astype("int64")
    out = out.sort_values(["shrunken_mean", "influencer_id"], ascending=[False, True], kind="stable")
    return out[STATS_COLUMNS].reset_index(drop=True)


def _pooled_std(per_influencer: pd.DataFrame, all_perf: pd.Series) -> tuple[float, int]:
    """Within-influencer std pooled over influencers with 2+ videos, and its degrees of freedom.
    Falls back to the std of all videos when nobody has two videos."""
    dof = per_influencer["videos"] - 1
    total_dof = int(dof[dof > 0].sum())
    if total_dof > 0:
        return float(np.sqrt((dof * per_influencer["std"] ** 2).sum() / total_dof)), total_dof
    if len(all_perf) > 1:
        return float(all_perf.std(ddof=1)), len(all_perf) - 1
    return 0.0, 0


def _shrink(means: np.ndarray, n: np.ndarray, sigma2: float, target: float, total_var: float) -> np.ndarray:
    if sigma2 <= 0 or len(means) == 0:
        return means.astype(float)
    # Method of moments: the spread of influencer means is true spread tau^2 plus sampling noise.
    between = float(np.var(means, ddof=1)) if len(means) > 1 else 0.0
    floor = max(1e-6, 0.01 * (total_var if np.isfinite(total_var) else sigma2))
    tau2 = max(between - float(np.mean(sigma2 / n)), floor)
    weight = n / (n + sigma2 / tau2)
    return target + weight * (means - target)


def _empty_stats() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in STATS_COLUMNS})
    return frame.astype({"influencer_id": str, "videos": "int64", "verdict": object})
