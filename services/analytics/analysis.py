"""Everything derived from the store (statistics, fitted predictor, its quality), computed once per
store version so that reports, predictions and pages stay cheap between writes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.analytics.model import ModelQuality, Predictor, evaluate, fit_predictor
from services.analytics.ridge import FitError
from services.analytics.stats import influencer_stats, scored_videos
from services.analytics.store import AnalyticsStore
from services.common.scores import MAX_SCORE


@dataclass(frozen=True)
class Analysis:
    """`videos`/`appearances`: the store's frames; `stats`: influencer_stats plus a `name` column and
    `ambiguous_videos` (identity's doubt: videos where another influencer was almost as close a match)."""

    videos: pd.DataFrame
    appearances: pd.DataFrame
    stats: pd.DataFrame
    names: dict[str, str]
    predictor: Predictor
    quality: ModelQuality
    overall_mean: float
    scored_videos: int
    # "Not an influencer" (set by hand): their appearances stay in `appearances`, not in stats or the model.
    hidden: frozenset[str] = frozenset()


def analyse(videos: pd.DataFrame, appearances: pd.DataFrame, names: dict[str, str],
            hidden: frozenset[str] = frozenset()) -> Analysis:
    """Pure: frames in, statistics and a fitted, cross-validated predictor out. Never fails for the
    scores: one outside the score rule is left out as unscored, and a model that cannot be fitted is
    reported unavailable (`quality.unavailable` says why) with the statistics still computed."""
    videos = within_score_rule(videos)
    every = appearances
    if hidden and len(appearances):
        appearances = appearances[~appearances["influencer_id"].isin(hidden)]
    stats = influencer_stats(videos, appearances)
    stats.insert(1, "name", [names.get(i, "") for i in stats["influencer_id"]])
    stats["ambiguous_videos"] = ambiguous_videos(appearances).reindex(stats["influencer_id"]).fillna(0).to_numpy(
        dtype="int64")
    scored = scored_videos(videos)
    overall = float(scored["performance"].mean()) if len(scored) else 0.0
    try:
        predictor, quality = fit_predictor(videos, appearances), evaluate(videos, appearances)
    except FitError as exc:  # recorded as the model's state, shown on the page and in report.json
        predictor, quality = Predictor((), overall), ModelQuality.none(len(scored), str(exc))
    return Analysis(
        videos=videos,
        appearances=every,
        stats=stats,
        names=dict(names),
        predictor=predictor,
        quality=quality,
        overall_mean=overall,
        scored_videos=len(scored),
        hidden=frozenset(hidden),
    )


def ambiguous_videos(appearances: pd.DataFrame) -> pd.Series:
    """Per influencer id, how many videos hold an appearance of theirs that identity marked ambiguous (another
    influencer was almost as close a match); influencers with none are left out."""
    if appearances.empty or "ambiguous" not in appearances:
        return pd.Series(dtype="int64", name="ambiguous_videos")
    doubtful = appearances[appearances["ambiguous"].astype(bool)]
    return doubtful.groupby("influencer_id")["video_id"].nunique().rename("ambiguous_videos")


def within_score_rule(videos: pd.DataFrame) -> pd.DataFrame:
    """`videos` with each score that services/common/scores.py refuses (beyond +-MAX_SCORE, or not finite) made
    missing. Every entry refuses such scores now; a store written before the rule may still hold one, and
    1.7e308 squared is inf: kept, it would break every report from then on."""
    if videos.empty or "performance" not in videos:
        return videos
    performance = videos["performance"].astype("float64")
    outside = ~(performance.abs() <= MAX_SCORE)  # NaN compares False: missing stays missing
    return videos.assign(performance=performance.mask(outside, np.nan)) if outside.any() else videos


class AnalysisCache:
    """Recomputes the analysis only when the store's version changed since the last call."""

    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._analysis: Analysis | None = None

    def current(self) -> Analysis:
        with self._lock:
            version = self._store.version()
            if self._analysis is None or version != self._version:
                self._analysis = analyse(
                    self._store.video_frame(), self._store.appearance_frame(), self._store.names(),
                    frozenset(self._store.hidden()),
                )
                self._version = version
            return self._analysis
