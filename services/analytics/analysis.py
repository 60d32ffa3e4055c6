"""Everything derived from the store (statistics, fitted predictor, its quality), computed once per
store version so that reports, predictions and pages stay cheap between writes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pandas as pd

from services.analytics.model import ModelQuality, Predictor, evaluate, fit_predictor
from services.analytics.stats import influencer_stats, scored_videos
from services.analytics.store import AnalyticsStore


@dataclass(frozen=True)
class Analysis:
    """`videos`/`appearances`: the store's frames; `stats`: influencer_stats plus a `name` column."""

    videos: pd.DataFrame
    appearances: pd.DataFrame
    stats: pd.DataFrame
    names: dict[str, str]
    predictor: Predictor
    quality: ModelQuality
    overall_mean: float
    scored_videos: int


def analyse(videos: pd.DataFrame, appearances: pd.DataFrame, names: dict[str, str]) -> Analysis:
    """Pure: frames in, statistics and a fitted, cross-validated predictor out."""
    stats = influencer_stats(videos, appearances)
    stats.insert(1, "name", [names.get(i, "") for i in stats["influencer_id"]])
    scored = scored_videos(videos)
    overall = float(scored["performance"].mean()) if len(scored) else 0.0
    return Analysis(
        videos=videos,
        appearances=appearances,
        stats=stats,
        names=dict(names),
        predictor=fit_predictor(videos, appearances),
        quality=evaluate(videos, appearances),
        overall_mean=overall,
        scored_videos=len(scored),
    )


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
                    self._store.video_frame(), self._store.appearance_frame(), self._store.names()
                )
                self._version = version
            return self._analysis
