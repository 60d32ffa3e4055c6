"""The model card in words: a plain sentence an analyst can act on first, the technical figures after.
Pure: a ModelQuality in, text out."""

from __future__ import annotations

from dataclasses import dataclass

from services.analytics.model import ModelQuality


@dataclass(frozen=True)
class ModelCard:
    """`plain`: how well the predictor does, against guessing the average video; `spread`: how far one video
    may land from its prediction ("" without a model); `technical`: the cross-validated figures."""

    plain: str
    spread: str
    technical: str


def number(value: float) -> str:
    """A score-unit number for a sentence: 3 significant digits, thousands separated past 1,000."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def model_card(quality: ModelQuality, overall_mean: float) -> ModelCard:
    """The card of `quality` (cross-validated, see model.evaluate); `overall_mean`: the average video's score."""
    q = quality
    if not q.folds:
        return ModelCard(f"No model: {q.unavailable or 'no scored videos'}.", "", "")
    average = number(overall_mean)
    if q.mae < q.baseline_mae:
        gain = 100 * (1 - q.mae / q.baseline_mae) if q.baseline_mae > 0 else 0.0
        plain = (f"Predicts a video's score from who is in it about {gain:.0f}% more closely than guessing the "
                 f"average video ({average}): typically off by {number(q.mae)}, where the guess is off by "
                 f"{number(q.baseline_mae)}.")
    else:
        plain = (f"Predicts a video's score no better than guessing the average video ({average}): who is in a "
                 f"video does not tell its score apart yet (typically off by {number(q.mae)}, the guess by "
                 f"{number(q.baseline_mae)}).")
    share = round(q.interval_level * 10)
    spread = (f"{share} in 10 videos land between {number(q.residual_low)} and +{number(q.residual_high)} of "
              f"their prediction." if q.residual_high >= 0 else "")
    technical = (f"Cross-validated mean absolute error ({q.folds} folds, {q.videos} videos) {number(q.mae)} vs "
                 f"{number(q.baseline_mae)} for the global mean; R² {q.r2:.2f} vs {q.baseline_r2:.2f}; "
                 f"{q.interval_level:.0%} of out-of-fold errors lie in [{number(q.residual_low)}, "
                 f"{number(q.residual_high)}].")
    return ModelCard(plain, spread, technical)
