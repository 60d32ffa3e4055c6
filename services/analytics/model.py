"""Predicts a video's performance from who is in it, and measures that predictor by cross-validation.

Features are one 0/1 indicator per known influencer; a ridge regression keeps rarely seen influencers
near zero. Screen time is left out on purpose: a "who should we hire" question has no screen time yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from services.analytics.stats import indicator_matrix

RIDGE_ALPHA = 1.0


@dataclass(frozen=True)
class ModelQuality:
    """Out-of-fold errors of the predictor and of the global-mean baseline (same folds)."""

    mae: float
    r2: float
    baseline_mae: float
    baseline_r2: float
    folds: int
    videos: int


@dataclass(frozen=True)
class Predictor:
    """`columns`: influencer ids known to the model; `overall_mean`: mean performance of the videos fitted."""

    columns: tuple[str, ...]
    overall_mean: float
    pipeline: Pipeline | None

    def known(self, influencer_ids: Sequence[str]) -> list[str]:
        return [i for i in dict.fromkeys(influencer_ids) if i in self.columns]

    def predict(self, influencer_ids: Sequence[str]) -> float:
        """Expected performance of a video with these influencers together. Unknown ids add nothing;
        with no known id at all the answer is the overall mean."""
        return float(self.predict_many([influencer_ids])[0])

    def predict_many(self, groups: Sequence[Sequence[str]]) -> np.ndarray:
        out = np.full(len(groups), self.overall_mean, dtype=float)
        if self.pipeline is None or not groups:
            return out
        index = {c: i for i, c in enumerate(self.columns)}
        x = np.zeros((len(groups), len(self.columns)))
        for row, ids in enumerate(groups):
            for known in self.known(ids):
                x[row, index[known]] = 1.0
        has_known = x.any(axis=1)
        if has_known.any():
            out[has_known] = self.pipeline.predict(x[has_known])
        return out


def fit_predictor(videos: pd.DataFrame, appearances: pd.DataFrame, alpha: float = RIDGE_ALPHA) -> Predictor:
    """Fits ridge regression of performance on influencer indicators over the scored videos."""
    x, y = indicator_matrix(videos, appearances)
    mean = float(y.mean()) if len(y) else 0.0
    if len(y) < 2 or x.shape[1] == 0:
        return Predictor(tuple(x.columns), mean, None)
    pipeline = Pipeline([("ridge", Ridge(alpha=alpha))]).fit(x.to_numpy(), y.to_numpy())
    return Predictor(tuple(x.columns), mean, pipeline)


def evaluate(videos: pd.DataFrame, appearances: pd.DataFrame, folds: int = 5) -> ModelQuality:
    """K-fold (shuffled, seeded) MAE and R^2 of the predictor vs predicting the training mean.
    Uses fewer folds when there are fewer videos; all zeros below two videos."""
    x, y = indicator_matrix(videos, appearances)
    k = min(folds, len(y))
    if k < 2:
        return ModelQuality(0.0, 0.0, 0.0, 0.0, 0, len(y))
    ids = x.index.to_numpy()
    members = [list(x.columns[row.astype(bool)]) for row in x.to_numpy()]
    predicted, baseline = np.empty(len(y)), np.empty(len(y))
    for train, test in KFold(n_splits=k, shuffle=True, random_state=0).split(ids):
        train_ids = set(ids[train])
        model = fit_predictor(
            videos[videos["video_id"].isin(train_ids)],
            appearances[appearances["video_id"].isin(train_ids)],
        )
        predicted[test] = model.predict_many([members[i] for i in test])
        baseline[test] = model.overall_mean
    truth = y.to_numpy()
    return ModelQuality(
        mae=float(mean_absolute_error(truth, predicted)),
        r2=float(r2_score(truth, predicted)),
        baseline_mae=float(mean_absolute_error(truth, baseline)),
        baseline_r2=float(r2_score(truth, baseline)),
        folds=k,
        videos=len(y),
    )
