"""Unit tests of the pure statistics: frames in, frames out, no I/O."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from services.analytics.stats import STATS_COLUMNS, attribution, influencer_stats


def frames(perf: dict[str, float], who: dict[str, list[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    videos = pd.DataFrame({"video_id": list(perf), "url": [f"u/{v}" for v in perf],
                           "performance": list(perf.values()), "duration_s": 10.0})
    rows = [{"video_id": v, "influencer_id": i, "screen_time_s": 2.0} for v, ids in who.items() for i in ids]
    return videos, pd.DataFrame(rows, columns=["video_id", "influencer_id", "screen_time_s"])


def test_a_video_counts_once_per_influencer_however_many_appearance_rows_it_has() -> None:
    videos, apps = frames({"v1": 1.0, "v2": 2.0}, {"v1": ["a", "a", "a"], "v2": ["a"]})
    row = influencer_stats(videos, apps).set_index("influencer_id").loc["a"]
    assert row["videos"] == 2
    assert row["mean"] == pytest.approx(1.5)
    assert row["screen_time_s"] == pytest.approx(8.0)


def test_a_duplicated_video_row_counts_once() -> None:
    videos, apps = frames({"v1": 1.0, "v2": 3.0}, {"v1": ["a"], "v2": ["a"]})
    videos = pd.concat([videos, videos.iloc[[0]]])
    assert influencer_stats(videos, apps).loc[0, "videos"] == 2


def test_mean_median_std_min_max_match_textbook_formulas_and_the_interval_is_the_shrinkage_posterior() -> None:
    perf = {"v1": 1.0, "v2": 2.0, "v3": 4.0, "v4": 0.5, "v5": 0.7}
    videos, apps = frames(perf, {"v1": ["a"], "v2": ["a"], "v3": ["a"], "v4": ["b"], "v5": ["b"]})
    row = influencer_stats(videos, apps).set_index("influencer_id").loc["a"]
    values = np.array([1.0, 2.0, 4.0])
    assert (row["mean"], row["median"], row["min"], row["max"]) == pytest.approx((7 / 3, 2.0, 1.0, 4.0))
    assert row["std"] == pytest.approx(values.std(ddof=1))
    # Pooled within variance over both (dof 2 + 1), tau^2 by moments, the posterior of a's mean.
    sigma2 = (2 * values.var(ddof=1) + 1 * np.var([0.5, 0.7], ddof=1)) / 3
    mu = np.mean(list(perf.values()))
    tau2 = max(np.var([7 / 3, 0.6], ddof=1) - np.mean([sigma2 / 3, sigma2 / 2]), 0.01 * np.var(list(perf.values()),
                                                                                              ddof=1))
    weight = tau2 / (tau2 + sigma2 / 3)
    centre = mu + weight * (7 / 3 - mu)
    half = st.t.ppf(0.975, 3) * np.sqrt(weight * sigma2 / 3)
    assert row["shrunken_mean"] == pytest.approx(centre)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((max(centre - half, 0.0), centre + half))


def test_a_one_video_influencer_has_zero_std_and_no_interval_at_all() -> None:
    perf = {"v1": 1.0, "v2": 2.0, "v3": 4.0, "v4": 0.5}
    videos, apps = frames(perf, {"v1": ["a"], "v2": ["a"], "v3": ["a"], "v4": ["b"]})
    row = influencer_stats(videos, apps).set_index("influencer_id").loc["b"]
    assert row["std"] == 0.0
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"]) and np.isnan(row["p_value"])
    assert row["verdict"] == "too few videos"


def test_a_two_video_influencer_with_wild_videos_gets_an_interval_within_the_score_range() -> None:
    # The case of issue 20: 1 degree of freedom of its own gave [-3.18, 4.84] while every mean sat in [0.5, 1.8].
    perf = {f"v{i}": p for i, p in enumerate([0.6, 0.7, 0.8, 1.6, 1.7, 1.8, 0.9, 1.0, 1.1, -0.0, 1.66])}
    who = {"v0": ["a"], "v1": ["a"], "v2": ["a"], "v3": ["b"], "v4": ["b"], "v5": ["b"], "v6": ["c"], "v7": ["c"],
           "v8": ["c"], "v9": ["wild"], "v10": ["wild"]}
    out = influencer_stats(*frames(perf, who)).set_index("influencer_id")
    assert (out["ci_low"] >= 0.0).all()
    wild = out.loc["wild"]
    assert wild["ci_high"] - wild["ci_low"] < 2.0
    assert 0.0 <= wild["ci_low"] <= wild["shrunken_mean"] <= wild["ci_high"]


def test_shrinkage_pulls_small_samples_harder_toward_the_overall_mean(analytics_planted) -> None:
    videos, apps = analytics_planted
    lone = pd.DataFrame({"video_id": ["lone"], "url": ["u"], "performance": [5.0], "duration_s": [1.0]})
    videos = pd.concat([videos, lone], ignore_index=True)
    lone_row = {"video_id": "lone", "influencer_id": "inf_lone", "screen_time_s": 1.0}
    apps = pd.concat([apps, pd.DataFrame([lone_row])])
    out = influencer_stats(videos, apps).set_index("influencer_id")
    overall = videos["performance"].mean()
    gaps = (out["mean"] - overall).abs()
    shrunk = (out["shrunken_mean"] - overall).abs()
    assert (shrunk <= gaps + 1e-12).all()
    assert (shrunk / gaps)["inf_lone"] < (shrunk / gaps)["inf_aaaa000001"]
    assert list(out.index) == list(out.sort_values("shrunken_mean", ascending=False).index)


def test_consistency_is_the_share_of_videos_above_the_median_of_all_videos() -> None:
    perf = {"v1": 1.0, "v2": 2.0, "v3": 3.0, "v4": 4.0, "v5": 5.0}
    videos, apps = frames(perf, {"v1": ["a"], "v4": ["a"], "v5": ["a"], "v2": ["b"]})
    out = influencer_stats(videos, apps).set_index("influencer_id")
    assert out.loc["a", "consistency"] == pytest.approx(2 / 3)
    assert out.loc["b", "consistency"] == 0.0


def test_attribution_recovers_planted_effects(analytics_planted, analytics_effects) -> None:
    effects = attribution(*analytics_planted)
    for influencer, planted in analytics_effects.items():
        assert effects[influencer] == pytest.approx(planted, abs=0.15)


def test_empty_inputs_give_empty_frames_with_the_right_columns() -> None:
    videos, apps = frames({}, {})
    assert list(influencer_stats(videos, apps).columns) == STATS_COLUMNS
    assert influencer_stats(videos, apps).empty
    assert attribution(videos, apps).empty
    some, _ = frames({"v1": 1.0}, {})
    assert influencer_stats(some, apps).empty


def test_videos_without_a_score_are_left_out() -> None:
    videos, apps = frames({"v1": 1.0, "v2": float("nan")}, {"v1": ["a"], "v2": ["a"]})
    assert influencer_stats(videos, apps).loc[0, "videos"] == 1
