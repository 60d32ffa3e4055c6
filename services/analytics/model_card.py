"""The model card in words: a plain sentence an analyst can act on first, the technical figures after.
Pure: a ModelQuality in, text out."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.analytics.export_format import statistic_text
from services.analytics.model import ModelQuality


@dataclass(frozen=True)
class ModelCard:
    """`plain`: how well the predictor does, against guessing the average video; `spread`: how far one video
    may land from its prediction ("" without a model); `technical`: the cross-validated figures."""

    plain: str
    spread: str
    technical: str


def numbers(*values: float) -> list[str]:
    """Score-unit numbers that stand side by side in a sentence, with the same decimals: as many as give
    the largest 3 significant digits (-0.580 and 0.881, not -0.58 and 0.881; 12.3 and 0.5), none from 1,000
    up, thousands separated."""
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if largest >= 100:
        decimals = 0
    elif largest > 0:
        decimals = min(6, 2 - math.floor(math.log10(largest)))
    else:
        decimals = 2
    return [f"{v:,.{decimals}f}" for v in values]


def model_card(quality: ModelQuality, overall_mean: float) -> ModelCard:
    """The card of `quality` (cross-validated, see model.evaluate); `overall_mean`: the average video's score."""
    q = quality
    if not q.folds:
        return ModelCard(f"No model: {q.unavailable or 'no scored videos'}.", "", "")
    # The average as the overview's "mean performance" card and report.json give it, beside it on the page.
    average, (mae, baseline) = statistic_text(overall_mean), numbers(q.mae, q.baseline_mae)
    if q.mae < q.baseline_mae:
        gain = 100 * (1 - q.mae / q.baseline_mae) if q.baseline_mae > 0 else 0.0
        plain = (f"Predicts a video's score from who is in it about {gain:.0f}% more closely than guessing the "
                 f"average video ({average}): typically off by {mae}, where the guess is off by {baseline}.")
    else:
        plain = (f"Predicts a video's score no better than guessing the average video ({average}): who is in a "
                 f"video does not tell its score apart yet (typically off by {mae}, the guess by {baseline}).")
    share = round(q.interval_level * 10)
    low, high = numbers(q.residual_low, q.residual_high)
    spread = (f"{share} in 10 videos land between {low} and +{high} of their prediction."
              if q.residual_high >= 0 else "")
    # The technical figures are report.json's "model", rounded as every export rounds them.
    t = statistic_text
    technical = (f"Cross-validated mean absolute error ({q.folds} folds, {q.videos} videos) {t(q.mae)} vs "
                 f"{t(q.baseline_mae)} for the global mean; R² {t(q.r2)} vs {t(q.baseline_r2)}; "
                 f"{q.interval_level:.0%} of out-of-fold errors lie in [{t(q.residual_low)}, {t(q.residual_high)}].")
    return ModelCard(plain, spread, technical)
