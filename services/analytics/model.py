"""Predicts a video's performance from who is in it, and measures that predictor by cross-validation.

Features are one 0/1 indicator per known influencer; a ridge regression keeps rarely seen influencers
near zero. Screen time is left out on purpose: a "who should we hire" question has no screen time yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.analytics.ridge import RIDGE_ALPHA, FitError, fit_ridge
from services.analytics.stats import Indicators, indicators
from services.common.scores import MAX_SCORE, MIN_SCORE

# Share of videos a prediction interval is meant to hold: 9 in 10 videos like the one asked about.
PREDICTION_LEVEL = 0.9


@dataclass(frozen=True)
class ModelQuality:
    """Out-of-fold errors of the predictor and of the global-mean baseline (same folds), in score units
    (R^2 unitless). `residual_low`/`residual_high`: quantiles of the out-of-fold errors (actual minus
    predicted, score units) holding `interval_level` of them between: a prediction p's interval is
    [p + residual_low, p + residual_high]. `unavailable` says why there is no model ("" when there is one);
    its errors are 0."""

    mae: float
    r2: float
    baseline_mae: float
    baseline_r2: float
    folds: int
    videos: int
    residual_low: float = 0.0
    residual_high: float = 0.0
    interval_level: float = PREDICTION_LEVEL
    unavailable: str = ""

    @classmethod
    def none(cls, videos: int, reason: str) -> ModelQuality:
        """The quality of no model at all, and why."""
        return cls(0.0, 0.0, 0.0, 0.0, 0, videos, unavailable=reason)

    def interval(self, predicted: float) -> tuple[float, float]:
        """The `interval_level` prediction interval around `predicted` (score units), clipped to the score's
        range (services/common/scores.py); (predicted, predicted) when there is no model."""
        low = predicted + self.residual_low
        if predicted >= MIN_SCORE:  # scores are never negative (synthetic rows centred on zero may be)
            low = max(low, MIN_SCORE)
        return low, min(predicted + self.residual_high, MAX_SCORE)


@dataclass(frozen=True, eq=False)
class Predictor:
    """`columns`: influencer ids known to the model; `overall_mean`: mean performance of the videos fitted;
    `coef` (one per column) and `intercept`: the fitted ridge, or None when there was too little to fit."""

    columns: tuple[str, ...]
    overall_mean: float
    coef: np.ndarray | None = None
    intercept: float = 0.0
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.columns)})

    def known(self, influencer_ids: Sequence[str]) -> list[str]:
        return [i for i in dict.fromkeys(influencer_ids) if i in self._index]

    def predict(self, influencer_ids: Sequence[str]) -> float:
        """Expected performance of a video with these influencers together. Unknown ids add nothing;
        with no known id at all the answer is the overall mean."""
        return float(self.predict_many([influencer_ids])[0])

    def predict_many(self, groups: Sequence[Sequence[str]]) -> np.ndarray:
        out = np.full(len(groups), self.overall_mean, dtype=float)
        if self.coef is None:
            return out
        for row, ids in enumerate(groups):
            known = [self._index[i] for i in self.known(ids)]
            if known:
                out[row] = self.intercept + float(self.coef[known].sum())
        return out


def fit_predictor(videos: pd.DataFrame, appearances: pd.DataFrame, alpha: float = RIDGE_ALPHA) -> Predictor:
    """Fits ridge regression of performance on influencer indicators over the scored videos."""
    design = indicators(videos, appearances)
    return _fit(design, np.arange(len(design.y)), alpha)


def _fit(design: Indicators, rows: np.ndarray, alpha: float) -> Predictor:
    """The predictor fitted on `rows` of the design; it knows only the influencers seen in those rows."""
    y = design.y[rows]
    mean = float(y.mean()) if len(y) else 0.0
    x = design.x[rows]
    seen = np.flatnonzero(x.getnnz(axis=0))
    columns = tuple(design.columns[seen].tolist())
    if len(y) < 2 or not columns:
        return Predictor(columns, mean)
    fit = fit_ridge(x[:, seen], y, alpha)
    return Predictor(columns, mean, fit.coef, fit.intercept)


def evaluate(videos: pd.DataFrame, appearances: pd.DataFrame, folds: int = 5) -> ModelQuality:
    """K-fold (shuffled, seeded) MAE and R^2 of the predictor vs predicting the training mean, and the
    quantiles of its out-of-fold errors that make the prediction interval. Uses fewer folds when there are
    fewer videos; below two videos, no model (`unavailable` says so).
    FitError when the scores cannot be fitted to finite numbers."""
    # Here, not at the top: scikit-learn costs ~70 MB of memory, and a run needs it only once the report is made
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import KFold

    design = indicators(videos, appearances)
    y = design.y
    k = min(folds, len(y))
    if k < 2:
        return ModelQuality.none(len(y), f"{len(y)} scored video{'' if len(y) == 1 else 's'}; a model needs "
                                         f"at least 2 to be fitted and tested")
    members = [design.members(row) for row in range(len(y))]
    predicted, baseline = np.empty(len(y)), np.empty(len(y))
    for train, test in KFold(n_splits=k, shuffle=True, random_state=0).split(design.video_ids):
        model = _fit(design, train, RIDGE_ALPHA)
        predicted[test] = model.predict_many([members[i] for i in test])
        baseline[test] = model.overall_mean
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, by the result
        quality = ModelQuality(
            mae=float(mean_absolute_error(y, predicted)),
            r2=float(r2_score(y, predicted)),
            baseline_mae=float(mean_absolute_error(y, baseline)),
            baseline_r2=float(r2_score(y, baseline)),
            folds=k,
            videos=len(y),
            **_residual_quantiles(y - predicted),
        )
    if not all(np.isfinite([quality.mae, quality.r2, quality.baseline_mae, quality.baseline_r2,
                            quality.residual_low, quality.residual_high])):
        raise FitError("the model's errors overflow (scores too large to measure)")
    return quality


def _residual_quantiles(residuals: np.ndarray, level: float = PREDICTION_LEVEL) -> dict[str, float]:
    """The out-of-fold errors' quantiles at (1 - level) / 2 and (1 + level) / 2 (linear interpolation):
    an honest interval, since no video predicted was in the fit that predicted it."""
    with np.errstate(over="ignore", invalid="ignore"):
        low, high = np.quantile(residuals, [(1 - level) / 2, (1 + level) / 2])
    return {"residual_low": float(low), "residual_high": float(high), "interval_level": level}
