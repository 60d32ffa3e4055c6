"""Scores at and beyond the edge of the score rule (services/common/scores.py): every entry refuses them, the
analysis leaves out any a store kept from before the rule, and nothing the report writes or serves is
NaN or Infinity (not JSON). A model that cannot be fitted is reported unavailable, with the reason."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from influencers.v1 import analytics_pb2, common_pb2
from services.analytics.analysis import analyse
from services.analytics.export import export_report
from services.analytics.model import evaluate
from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.report import json_ready, to_records
from services.analytics.ridge import FitError, fit_ridge, fit_ridge_loo
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app


def strict_json(text: str) -> object:
    """json.loads that refuses NaN and Infinity, as strict parsers (JavaScript's JSON.parse) do."""
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def record(store: AnalyticsStore, scores: list[float]) -> None:
    """One DONE video a score, each with one of two influencers."""
    for k, score in enumerate(scores):
        video_id = f"{k:016x}"
        store.record_video(
            VideoRow(url=f"https://x/{k}.mp4", video_id=video_id, performance=score, status=DONE, duration_s=9.0),
            [AppearanceRow(video_id=video_id, influencer_id=f"inf_{k % 2:010x}", last_seen_s=3.0, faces=2,
                           screen_time_s=3.0, face_quality=0.5, best_face=b"\xff\xd8jpeg")])


def force_score(db: Path, video_id: str, score: float) -> None:
    """Writes a score as a store from before the score rule could have kept it (no entry takes it now)."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE videos SET performance = ? WHERE video_id = ?", (score, video_id))
        conn.execute("UPDATE urls SET performance = ? WHERE video_id = ?", (score, video_id))


@pytest.mark.parametrize("huge", [1.7e308, 1e200, float("inf"), float("-inf")])
def test_a_stored_score_beyond_the_rule_is_left_out_and_the_report_is_strict_json(store, tmp_path, huge):
    record(store, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    force_score(tmp_path / "a.sqlite", f"{0:016x}", huge)
    paths = export_report(store, tmp_path / "out")
    report = strict_json(paths["report"].read_text())
    assert report["videos"] == 5 and report["model_available"] is True
    assert report["overall_mean"] == pytest.approx(4.0)
    assert all(np.isfinite(v) for v in report["model"].values())
    influencers = pd.read_csv(paths["influencers"])
    assert influencers["videos"].sum() == 5 and np.isfinite(influencers["avg_performance"]).all()


def test_scores_at_the_edge_of_the_range_give_finite_statistics_and_a_fitted_model(store, tmp_path):
    record(store, [1e9, 0.0, 1e9, 0.0, 1e9, 1.0, 999_999_999.5, 0.5])
    report = strict_json(export_report(store, tmp_path / "out")["report"].read_text())
    assert report["model_available"] is True and report["model"]["folds"] == 5
    analysis = analyse(store.video_frame(), store.appearance_frame(), store.names())
    numbers = analysis.stats.select_dtypes("number").to_numpy()
    assert np.isfinite(numbers).all()
    assert np.isfinite(analysis.predictor.predict([f"inf_{0:010x}"]))


@pytest.mark.parametrize("scores", [[], [3.0]], ids=["no video", "one video"])
def test_with_fewer_than_two_scored_videos_the_report_says_the_model_is_unavailable_and_why(
        store, tmp_path, scores):
    record(store, scores)
    report = strict_json(export_report(store, tmp_path / "out")["report"].read_text())
    assert report["model_available"] is False
    videos = f"{len(scores)} scored video{'' if len(scores) == 1 else 's'}"
    assert report["model_unavailable_reason"] == f"{videos}; a model needs at least 2 to be fitted and tested"
    assert report["model"]["folds"] == 0


def test_the_overview_page_says_why_there_is_no_model(store):
    record(store, [3.0])
    page = create_app(store).test_client().get("/").get_data(as_text=True)
    assert "No model: 1 scored video; a model needs at least 2 to be fitted and tested." in page


def test_the_model_measured_on_overflowing_scores_raises_a_fit_error_and_the_analysis_leaves_them_out(
        analytics_planted):
    videos, appearances = analytics_planted
    huge = videos.assign(performance=videos["performance"] * 1e200)
    with pytest.raises(FitError, match="overflow"):
        evaluate(huge, appearances)
    analysis = analyse(huge, appearances, {})
    assert analysis.scored_videos == 0 and analysis.quality.unavailable.startswith("0 scored videos")
    assert analysis.stats.empty and analysis.overall_mean == 0.0


@pytest.mark.parametrize("y", [[1.7e308, 1.7e308, 1.0, 2.0], [np.nan, 1.0, 2.0, 3.0], [np.inf, 1.0, 2.0, 3.0]],
                         ids=["overflow", "nan", "inf"])
def test_ridge_refuses_scores_it_cannot_fit_instead_of_returning_nan(y):
    x = sparse.csr_matrix(np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=float))
    with pytest.raises(FitError):
        fit_ridge(x, np.array(y), 1.0)
    with pytest.raises(FitError):
        fit_ridge_loo(x, np.array(y), (0.1, 1.0))


def test_json_rows_carry_null_for_nan_and_infinity_and_keep_every_other_value():
    frame = pd.DataFrame({"a": [1.5, np.nan, np.inf, -np.inf], "b": ["x", "y", "z", "w"], "c": [1, 2, 3, 4]})
    rows = to_records(frame)
    assert [r["a"] for r in rows] == [1.5, None, None, None]
    assert [(r["b"], r["c"]) for r in rows] == [("x", 1), ("y", 2), ("z", 3), ("w", 4)]
    json.dumps(rows, allow_nan=False)
    assert json_ready({"m": (float("nan"), [float("inf"), 2.0]), "s": "NaN"}) == {"m": [None, [None, 2.0]],
                                                                                 "s": "NaN"}


def test_the_json_api_never_serves_nan_or_infinity(store, tmp_path):
    record(store, [1.0, 2.0, 3.0])
    force_score(tmp_path / "a.sqlite", f"{0:016x}", float("inf"))
    client = create_app(store).test_client()
    for name in ("videos", "influencers", "appearances"):
        answer = client.get(f"/api/{name}.json")
        assert answer.status_code == 200, name
        strict_json(answer.get_data(as_text=True))
    videos = strict_json(client.get("/api/videos.json").get_data(as_text=True))
    assert sorted((v["performance"] is None) for v in videos) == [False, False, True]


# ---- the gRPC entries meet the same rule as a manifest cell ------------------------------------------

@pytest.mark.parametrize("score,message", [(1e308, "performance 1e+308 is too large"),
                                           (1.7e308, "performance 1.7e+308 is too large"),
                                           (-5.0, "performance -5 is negative")])
def test_update_performance_and_record_video_refuse_what_a_manifest_refuses_naming_the_row(stub, score, message):
    url = "https://x/a.mp4"
    stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
        url=url, video_id="00000000000000aa", performance=2.0, status=common_pb2.VIDEO_STATUS_DONE)))
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(url=url, performance=score))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"'{url}': {message}")
    with pytest.raises(grpc.RpcError) as err:
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
            url="https://x/b.mp4", video_id="00000000000000bb", performance=score,
            status=common_pb2.VIDEO_STATUS_DONE)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"'https://x/b.mp4': {message}")
    assert stub.GetVideo(analytics_pb2.GetVideoRequest(url=url)).video.performance == 2.0
    stub.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(url=url, performance=1e9))
    assert stub.GetVideo(analytics_pb2.GetVideoRequest(url=url)).video.performance == 1e9
