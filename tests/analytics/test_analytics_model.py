"""Unit tests of the predictor and its cross-validated quality."""

from __future__ import annotations

import pandas as pd
import pytest

from services.analytics.model import evaluate, fit_predictor


def test_the_model_beats_the_global_mean_baseline_on_planted_effects(analytics_planted) -> None:
    quality = evaluate(*analytics_planted, folds=5)
    assert quality.folds == 5 and quality.videos == 80
    assert quality.mae < 0.5 * quality.baseline_mae
    assert quality.r2 > 0.7 > quality.baseline_r2


def test_hiring_the_best_two_together_predicts_more_than_either_alone(analytics_planted) -> None:
    model = fit_predictor(*analytics_planted)
    both = model.predict(["inf_aaaa000001", "inf_dddd000004"])
    assert both > model.predict(["inf_aaaa000001"]) > model.predict(["inf_bbbb000002"])
    assert both == pytest.approx(1.0 + 1.0 + 0.5, abs=0.25)


def test_unknown_influencers_count_as_the_overall_mean(analytics_planted) -> None:
    videos, apps = analytics_planted
    model = fit_predictor(videos, apps)
    assert model.predict(["inf_nobody"]) == pytest.approx(videos["performance"].mean())
    assert model.predict(["inf_aaaa000001", "inf_nobody"]) == pytest.approx(model.predict(["inf_aaaa000001"]))


def test_fewer_videos_than_folds_uses_fewer_folds_and_none_gives_zeros(analytics_planted) -> None:
    videos, apps = analytics_planted
    few = videos.head(3)
    quality = evaluate(few, apps[apps["video_id"].isin(few["video_id"])], folds=5)
    assert quality.folds == 3 and quality.videos == 3
    empty = evaluate(videos.head(0), apps.head(0))
    assert (empty.mae, empty.r2, empty.folds, empty.videos) == (0.0, 0.0, 0, 0)
    assert fit_predictor(pd.DataFrame(columns=videos.columns), apps.head(0)).predict(["x"]) == 0.0


def test_the_same_videos_give_the_same_figures_whatever_order_they_were_analysed_in(analytics_planted) -> None:
    # The store lists videos in the order they finished, which parallel workers change from run to run; the
    # folds followed that order, so one corpus run twice showed two model cards (smoke: the guess off by 0.359
    # in docs/numbers.md, 0.364 in a screenshot, 0.366 in a run of this session).
    videos, apps = analytics_planted
    shuffled = videos.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert evaluate(shuffled, apps.sample(frac=1.0, random_state=8)) == evaluate(videos, apps)
