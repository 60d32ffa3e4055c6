"""Verdicts: a direction only where Benjamini-Hochberg's adjusted p-value allows it, at every boundary."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from services.analytics.stats import influencer_stats
from services.analytics.verdicts import BELOW, DRIVES, FDR, TOO_FEW, UNCLEAR, bh_adjust, fdr_sentence, verdict, verdicts


def test_a_mean_above_the_average_with_a_q_value_within_the_rate_drives_engagement() -> None:
    assert verdict(5, 12.0, FDR, overall_mean=10.0) == DRIVES


def test_a_mean_below_the_average_with_a_q_value_within_the_rate_is_below_average() -> None:
    assert verdict(5, 8.0, 0.001, overall_mean=10.0) == BELOW


@pytest.mark.parametrize(("mean", "q"), [(12.0, 0.0501), (8.0, 0.5), (10.0, 0.0)])
def test_a_q_value_over_the_rate_or_a_mean_on_the_average_is_not_distinguishable(mean: float, q: float) -> None:
    assert verdict(5, mean, q, overall_mean=10.0) == UNCLEAR


def test_one_video_is_too_few_however_far_its_mean_lies_and_two_are_enough() -> None:
    assert verdict(1, 50.0, 0.0, overall_mean=10.0) == TOO_FEW
    assert verdict(0, 50.0, 0.0, overall_mean=10.0) == TOO_FEW
    assert verdict(2, 50.0, 0.0, overall_mean=10.0) == DRIVES


def test_a_number_that_is_not_finite_is_too_few_videos() -> None:
    assert verdict(4, 12.0, math.nan, overall_mean=10.0) == TOO_FEW
    assert verdict(4, math.inf, 0.0, overall_mean=10.0) == TOO_FEW


def test_benjamini_hochberg_matches_the_textbook_step_up_and_leaves_untested_rows_out() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.005, 0.5])
    q = bh_adjust(p)
    # m = 5 tested; sorted p 0.005, 0.01, 0.03, 0.04, 0.5 -> p*m/k 0.025, 0.025, 0.05, 0.05, 0.5
    assert np.isnan(q[1])
    assert q[[4, 0, 3, 2, 5]] == pytest.approx([0.025, 0.025, 0.05, 0.05, 0.5])
    assert np.all(q[~np.isnan(q)] >= p[~np.isnan(p)])


def test_benjamini_hochberg_of_nothing_tested_is_all_missing() -> None:
    assert np.isnan(bh_adjust(np.array([np.nan, np.nan]))).all()
    assert bh_adjust(np.array([])).shape == (0,)


def test_thirty_influencers_who_are_all_average_get_about_no_directional_verdict() -> None:
    # At 5% each, 30 tests call 1.5 of them "different" on average; BH calls all of them so at most 5% of the time.
    rng = np.random.default_rng(0)
    wrong = 0
    for _ in range(200):
        p = rng.uniform(size=30)
        wrong += int((bh_adjust(p) <= FDR).any())
    assert wrong / 200 <= 0.08


def test_verdicts_keep_the_frames_index_and_order() -> None:
    frame = pd.DataFrame({"videos": [3, 1, 3], "mean": [12.0, 12.0, 1.0], "q_value": [0.01, 0.01, 0.02]},
                         index=[7, 3, 5])
    out = verdicts(frame, overall_mean=10.0)
    assert out.name == "verdict"
    assert out.to_dict() == {7: DRIVES, 3: TOO_FEW, 5: BELOW}


def test_influencer_stats_give_each_influencer_its_verdict_against_the_mean_of_all_videos() -> None:
    perf = {"a1": 20.0, "a2": 21.0, "a3": 20.5, "b1": 1.0, "b2": 1.5, "b3": 1.2, "c1": 12.0, "c2": 14.0,
            "d1": 30.0}
    who = {"a1": ["a"], "a2": ["a"], "a3": ["a"], "b1": ["b"], "b2": ["b"], "b3": ["b"], "c1": ["c"],
           "c2": ["c"], "d1": ["d"]}
    videos = pd.DataFrame({"video_id": list(perf), "performance": list(perf.values())})
    apps = pd.DataFrame([{"video_id": v, "influencer_id": i, "screen_time_s": 1.0}
                         for v, ids in who.items() for i in ids])
    stats = influencer_stats(videos, apps).set_index("influencer_id")["verdict"]
    assert stats.to_dict() == {"a": DRIVES, "b": BELOW, "c": UNCLEAR, "d": TOO_FEW}


def test_the_page_sentence_says_one_in_twenty() -> None:
    assert "at most about 1 in 20" in fdr_sentence()


def test_no_influencer_gives_an_empty_verdict_column() -> None:
    empty = influencer_stats(pd.DataFrame({"video_id": [], "performance": []}),
                             pd.DataFrame({"video_id": [], "influencer_id": [], "screen_time_s": []}))
    assert "verdict" in empty.columns and empty.empty
