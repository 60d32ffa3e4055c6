"""Verdicts: where an influencer's 95% interval lies against the average video, at every boundary."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from services.analytics.stats import influencer_stats
from services.analytics.verdicts import BELOW, DRIVES, TOO_FEW, UNCLEAR, verdict, verdicts


def test_an_interval_wholly_above_the_average_drives_engagement() -> None:
    assert verdict(5, 10.01, 14.0, overall_mean=10.0) == DRIVES


def test_an_interval_wholly_below_the_average_is_below_average() -> None:
    assert verdict(5, 6.0, 9.99, overall_mean=10.0) == BELOW


@pytest.mark.parametrize(("low", "high"), [(8.0, 12.0), (10.0, 12.0), (8.0, 10.0), (10.0, 10.0)])
def test_an_interval_that_contains_or_touches_the_average_is_not_distinguishable(low: float, high: float) -> None:
    assert verdict(5, low, high, overall_mean=10.0) == UNCLEAR


def test_one_video_is_too_few_however_far_its_interval_lies_and_two_are_enough() -> None:
    assert verdict(1, 50.0, 60.0, overall_mean=10.0) == TOO_FEW
    assert verdict(0, 50.0, 60.0, overall_mean=10.0) == TOO_FEW
    assert verdict(2, 50.0, 60.0, overall_mean=10.0) == DRIVES


def test_a_bound_that_is_not_a_finite_number_is_too_few_videos() -> None:
    assert verdict(4, math.nan, 12.0, overall_mean=10.0) == TOO_FEW
    assert verdict(4, 11.0, math.inf, overall_mean=10.0) == TOO_FEW


def test_verdicts_keep_the_frames_index_and_order() -> None:
    frame = pd.DataFrame({"videos": [3, 1, 3], "ci_low": [11.0, 11.0, 1.0], "ci_high": [12.0, 12.0, 2.0]},
                         index=[7, 3, 5])
    out = verdicts(frame, overall_mean=10.0)
    assert out.name == "verdict"
    assert out.to_dict() == {7: DRIVES, 3: TOO_FEW, 5: BELOW}


def test_influencer_stats_give_each_influencer_its_verdict_against_the_mean_of_all_videos() -> None:
    perf = {"a1": 20.0, "a2": 21.0, "a3": 20.5, "b1": 1.0, "b2": 1.5, "b3": 1.2, "c1": 10.0, "c2": 12.0,
            "d1": 30.0}
    who = {"a1": ["a"], "a2": ["a"], "a3": ["a"], "b1": ["b"], "b2": ["b"], "b3": ["b"], "c1": ["c"],
           "c2": ["c"], "d1": ["d"]}
    videos = pd.DataFrame({"video_id": list(perf), "performance": list(perf.values())})
    apps = pd.DataFrame([{"video_id": v, "influencer_id": i, "screen_time_s": 1.0}
                         for v, ids in who.items() for i in ids])
    stats = influencer_stats(videos, apps).set_index("influencer_id")["verdict"]
    assert stats.to_dict() == {"a": DRIVES, "b": BELOW, "c": UNCLEAR, "d": TOO_FEW}


def test_no_influencer_gives_an_empty_verdict_column() -> None:
    empty = influencer_stats(pd.DataFrame({"video_id": [], "performance": []}),
                             pd.DataFrame({"video_id": [], "influencer_id": [], "screen_time_s": []}))
    assert "verdict" in empty.columns and empty.empty
