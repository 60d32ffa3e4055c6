"""The shrinkage intervals: one rule for any number of videos, clipped to the score's range."""

from __future__ import annotations

import numpy as np
import pytest

from services.analytics.intervals import between_variance, pooled_variance, score_range, shrinkage_estimates
from services.common.scores import MAX_SCORE


def test_a_one_video_influencer_never_gets_a_narrower_interval_than_a_two_video_one_with_the_same_spread() -> None:
    all_perf = np.array([0.5, 0.9, 1.1, 1.3, 1.5, 1.8, 1.0, 1.2])
    for videos in range(1, 8):
        est = shrinkage_estimates(np.array([videos, videos + 1, 4]), np.array([1.4, 1.4, 1.0]),
                                  np.array([0.0, 0.3, 0.3]), all_perf, min_videos=1)
        assert est.high[0] - est.low[0] > est.high[1] - est.low[1]


def test_the_interval_narrows_with_every_video_however_many() -> None:
    all_perf = np.linspace(0.5, 1.8, 40)
    n = np.arange(1, 21)
    est = shrinkage_estimates(n, np.full(len(n), 1.6), np.full(len(n), 0.3), all_perf, min_videos=1)
    assert np.all(np.diff(est.high - est.low) < 0)


def test_under_the_minimum_there_is_no_interval_and_no_p_value() -> None:
    est = shrinkage_estimates(np.array([1, 3]), np.array([5.0, 1.0]), np.array([0.0, 0.2]),
                              np.array([5.0, 0.8, 1.0, 1.2]), min_videos=2)
    assert np.isnan(est.low[0]) and np.isnan(est.high[0]) and np.isnan(est.p_value[0])
    assert np.isfinite(est.low[1]) and np.isfinite(est.p_value[1])


def test_bounds_never_leave_the_score_range() -> None:
    all_perf = np.array([0.0, 0.0, 0.1, 9.0, 0.05, 8.0])
    est = shrinkage_estimates(np.array([2, 2, 2]), np.array([0.0, 8.5, 0.075]), np.array([0.0, 0.7, 0.035]),
                              all_perf)
    assert np.all(est.low >= 0.0) and np.all(est.high <= MAX_SCORE)


def test_scores_below_zero_written_by_hand_widen_the_range_instead_of_being_clipped_away() -> None:
    assert score_range(np.array([0.0, 3.0])) == (0.0, MAX_SCORE)
    assert score_range(np.array([-1.0, 3.0])) == (-MAX_SCORE, MAX_SCORE)


def test_the_shrunken_mean_lies_between_the_raw_mean_and_the_average_and_closer_to_it_with_fewer_videos() -> None:
    all_perf = np.linspace(0.0, 2.0, 30)
    est = shrinkage_estimates(np.array([2, 20, 5]), np.array([1.8, 1.8, 0.5]), np.array([0.4, 0.4, 0.4]), all_perf)
    mu = all_perf.mean()
    assert mu < est.shrunken[0] < est.shrunken[1] < 1.8


def test_the_pooled_variance_weights_each_influencer_by_its_degrees_of_freedom() -> None:
    sigma2, dof = pooled_variance(np.array([3, 2, 1]), np.array([1.0, 2.0, 0.0]), np.array([1.0, 2.0]))
    assert (sigma2, dof) == (pytest.approx((2 * 1.0 + 1 * 4.0) / 3), 3)


def test_with_nobody_seen_twice_the_pooled_variance_is_that_of_all_videos() -> None:
    assert pooled_variance(np.array([1, 1]), np.array([0.0, 0.0]), np.array([1.0, 3.0])) == (pytest.approx(2.0), 1)


def test_the_between_variance_is_floored_at_a_hundredth_of_the_total() -> None:
    assert between_variance(np.array([1.0, 1.0]), np.array([2, 2]), 1.0, total_var=4.0) == pytest.approx(0.04)


def test_a_mean_far_from_the_average_has_a_small_p_value_and_one_on_it_a_large_one() -> None:
    all_perf = np.concatenate([np.full(10, 1.0), np.full(10, 2.0)]) + np.tile([-0.1, 0.1], 10)
    est = shrinkage_estimates(np.array([10, 10, 4]), np.array([1.0, 2.0, 1.5]), np.array([0.1, 0.1, 0.1]), all_perf)
    assert est.p_value[0] < 1e-6 and est.p_value[1] < 1e-6 and est.p_value[2] > 0.5
