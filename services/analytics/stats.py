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

from services.analytics.intervals import shrinkage_estimates
from services.analytics.ridge import RIDGE_ALPHAS, fit_ridge_loo
from services.analytics.verdicts import MIN_VIDEOS_FOR_VERDICT, bh_adjust, verdicts

STATS_COLUMNS = [
    "influencer_id", "videos", "mean", "median", "std", "min", "max", "ci_low", "ci_high",
    "shrunken_mean", "consistency", "screen_time_s", "attributed_effect", "verdict", "p_value", "q_value",
]
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
    # Rows by video id, not as the store lists them (the order videos finished, which parallel workers change
    # from run to run): the model's folds follow the rows, so one corpus gave a different model card each run.
    scored = scored_videos(videos).sort_values("video_id", kind="stable", ignore_index=True)
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

    std uses ddof=1 (0 for one video). The interval, the shrunken mean, the p-value and the verdict come
    from services/analytics/intervals.py, one way for any number of videos: the influencer's mean shrunk
    toward the mean of all scored videos with a pooled within-influencer variance, its 95% interval clipped
    to the score's range (scores.py), and none at all (NaN) under MIN_VIDEOS_FOR_VERDICT videos. Verdicts
    control the false discovery rate across all influencers (verdicts.py, Benjamini-Hochberg).
    """
    pairs = presences(videos, appearances)
    if pairs.empty:
        return _empty_stats()
    all_perf = scored_videos(videos)["performance"]
    overall_median = float(all_perf.median())
    grouped = pairs.groupby("influencer_id")
    out = grouped["performance"].agg(["count", "mean", "median", "std", "min", "max"])
    out = out.rename(columns={"count": "videos"})
    out["std"] = out["std"].fillna(0.0)
    out["screen_time_s"] = grouped["screen_time_s"].sum()
    out["consistency"] = grouped["performance"].agg(lambda p: float((p > overall_median).mean()))

    estimates = shrinkage_estimates(out["videos"].to_numpy(), out["mean"].to_numpy(), out["std"].to_numpy(),
                                    all_perf.to_numpy(dtype=float), level=CONFIDENCE,
                                    min_videos=MIN_VIDEOS_FOR_VERDICT)
    out["ci_low"], out["ci_high"] = estimates.low, estimates.high
    out["shrunken_mean"] = estimates.shrunken
    out["p_value"] = estimates.p_value
    out["q_value"] = bh_adjust(estimates.p_value)

    effects = attribution(videos, appearances)
    out["attributed_effect"] = effects.reindex(out.index).fillna(0.0)
    out["verdict"] = verdicts(out, estimates.overall_mean)
    out = out.reset_index()
    out["videos"] = out["videos"].astype("int64")
    out = out.sort_values(["shrunken_mean", "influencer_id"], ascending=[False, True], kind="stable")
    return out[STATS_COLUMNS].reset_index(drop=True)


def _empty_stats() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in STATS_COLUMNS})
    return frame.astype({"influencer_id": str, "videos": "int64", "verdict": object})
