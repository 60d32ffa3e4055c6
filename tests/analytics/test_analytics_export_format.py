"""How the exports are written: rounded numbers, relative locations, and every column documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.analytics.export import export_report
from services.analytics.export_format import relative_locations, significant, without_root
from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "exports.md"


def test_four_significant_digits_are_kept_whatever_the_magnitude() -> None:
    values = [1.8807999999999998, 0.00437249, 123456.0, -2.718281828, 2.871234e-14, 0.0, np.nan, np.inf]
    out = significant(values)
    assert out[:5].tolist() == [1.881, 0.004372, 123500.0, -2.718, 2.871e-14]
    assert out[5] == 0.0 and np.isnan(out[6]) and np.isinf(out[7])
    assert [repr(float(v)) for v in out[:2]] == ["1.881", "0.004372"]


def test_a_location_under_the_allowed_root_is_written_relative_to_it_and_a_url_as_is() -> None:
    locations = pd.Series(["/srv/media/a/x.mp4", "https://cdn.example.com/y.mp4", "/elsewhere/z.mp4", ""])
    out = relative_locations(locations, pd.Series(["a/x.mp4", "https://cdn.example.com/y.mp4", "z.mp4", ""]),
                             "/srv/media").tolist()
    assert out == ["a/x.mp4", "https://cdn.example.com/y.mp4", "z.mp4", ""]


def test_without_an_allowed_root_a_location_is_its_manifests_folder_and_the_path_the_manifest_gave() -> None:
    locations = pd.Series(["/data/corpus/dev/videos/a.mp4", "/data/corpus/dev/clips/b.mp4", "/data/one.mp4"])
    urls = pd.Series(["videos/a.mp4", "./clips//b.mp4", "one.mp4"])
    assert relative_locations(locations, urls).tolist() == ["dev/videos/a.mp4", "dev/clips/b.mp4", "data/one.mp4"]


def test_a_location_the_manifest_gave_with_windows_backslashes_or_in_another_unicode_form_is_from_its_manifests_folder(
        ) -> None:
    # Was "videos/b.mp4" beside "dev/videos/a.mp4": the URL did not spell the path found, so its own folder named it.
    locations = pd.Series(["/data/dev/videos/b.mp4", "/data/dev/Vide\u0301os/cafe\u0301.mp4", "/data/dev/a\\b.mp4"])
    urls = pd.Series(["videos\\b.mp4", "Vid\u00e9os/caf\u00e9.mp4", "a\\b.mp4"])
    assert relative_locations(locations, urls).tolist() == [
        "dev/videos/b.mp4", "dev/Vide\u0301os/cafe\u0301.mp4", "dev/a\\b.mp4"]


def test_a_location_given_by_an_absolute_path_or_through_dot_dot_is_its_folders_name_and_its_file_name() -> None:
    locations = pd.Series(["/srv/x/clips/b.mp4", "/srv/x/clips/c.mp4", "/d.mp4"])
    urls = pd.Series(["/srv/x/clips/b.mp4", "../clips/c.mp4", "file:///d.mp4"])
    assert relative_locations(locations, urls).tolist() == ["clips/b.mp4", "clips/c.mp4", "d.mp4"]


def test_a_rows_location_stays_the_same_once_a_manifest_of_another_folder_is_ingested(tmp_path: Path) -> None:
    # Was: relative to the folder every local location shared, so "videos/a.mp4" became
    # "data/week1/videos/a.mp4" in every row once /other/week2's manifest was ingested.
    store = AnalyticsStore(tmp_path / "moves.sqlite")
    try:
        store.record_video(VideoRow(url="videos/a.mp4", video_id="a" * 16, performance=1.0, status=DONE,
                                    location="/data/week1/videos/a.mp4"))
        store.record_video(VideoRow(url="videos/b.mp4", video_id="b" * 16, performance=2.0, status=DONE,
                                    location="/data/week1/videos/b.mp4"))
        before = [row["location"] for row in create_app(store).test_client().get("/api/videos.json").get_json()]
        store.record_video(VideoRow(url="clips/c.mp4", video_id="c" * 16, performance=3.0, status=DONE,
                                    location="/other/week2/clips/c.mp4"))
        after = [row["location"] for row in create_app(store).test_client().get("/api/videos.json").get_json()]
    finally:
        store.close()
    assert before == ["week1/videos/a.mp4", "week1/videos/b.mp4"]
    assert after == [*before, "week2/clips/c.mp4"]


def test_an_error_naming_the_allowed_root_loses_the_servers_folder() -> None:
    assert without_root("/srv/media/../x.mp4: outside the allowed folder /srv/media", "/srv/media") == (
        "../x.mp4: outside the allowed folder")


@pytest.fixture
def local_store(tmp_path: Path) -> AnalyticsStore:
    store = AnalyticsStore(tmp_path / "local.sqlite")
    perf = [1.23456789, 0.5, 2.0, 1.1, 0.9, 1.7]
    for k, p in enumerate(perf):
        video_id = f"{k:016x}"
        store.record_video(
            VideoRow(url=f"videos/v{k}.mp4", video_id=video_id, performance=p, status=DONE, duration_s=5.8333333,
                     faces=3, location=f"/srv/media/videos/v{k}.mp4"),
            [AppearanceRow(video_id, "inf_aaaa000001" if k % 2 else "inf_bbbb000002", 0.3333333, 5.8333333, 3,
                           5.5, 0.5, b"")])
    store.record_video(VideoRow(url="/etc/passwd.mp4", performance=1.0, status=FAILED, location="/etc/passwd.mp4",
                                error="/etc/passwd.mp4: outside the allowed folder /srv/media"))
    yield store
    store.close()


def test_exported_statistics_have_at_most_four_significant_digits_and_scores_stay_as_given(
    local_store: AnalyticsStore, tmp_path: Path
) -> None:
    paths = export_report(local_store, tmp_path / "out", root="/srv/media")
    influencers = pd.read_csv(paths["influencers"])
    for column in ("avg_performance", "std_performance", "ci_low", "ci_high", "shrunken_mean", "attributed_effect",
                   "p_value", "q_value"):
        values = influencers[column].dropna().to_numpy()
        assert np.array_equal(values, significant(values)), column
    videos = pd.read_csv(paths["videos"], keep_default_na=False)
    assert 1.23456789 in videos["performance"].tolist()
    assert set(videos["duration_s"][videos["status"] == "done"]) == {5.83}
    appearances = pd.read_csv(paths["appearances"])
    assert set(appearances["first_seen_s"]) == {0.33} and set(appearances["last_seen_s"]) == {5.83}
    assert "1.2345678" not in paths["influencers"].read_text()


def test_no_absolute_server_path_reaches_the_json_or_the_csv(local_store: AnalyticsStore, tmp_path: Path) -> None:
    paths = export_report(local_store, tmp_path / "out", root="/srv/media")
    videos = pd.read_csv(paths["videos"], keep_default_na=False)
    assert "videos/v0.mp4" in videos["location"].tolist()
    client = create_app(local_store, {"ALLOWED_ROOT": "/srv/media"}).test_client()
    for name in ("videos", "influencers", "appearances"):
        text = client.get(f"/api/{name}.json").get_data(as_text=True)
        assert "/srv/media" not in text, name
        for row in json.loads(text):
            assert not str(row.get("location", "")).startswith("/"), row
    report = paths["report"].read_text()
    assert str(tmp_path) not in report and "/srv/media" not in report
    assert "/srv/media" not in paths["videos"].read_text()


def test_every_exported_column_is_documented_in_docs_exports(analytics_store: AnalyticsStore, tmp_path: Path) -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    paths = export_report(analytics_store, tmp_path / "out")
    for name in ("influencers", "appearances", "videos"):
        missing = set(pd.read_csv(paths[name]).columns) - documented
        assert not missing, f"{name}.csv columns missing from docs/exports.md: {sorted(missing)}"
    assert set(json.loads(paths["report"].read_text())) <= documented
    assert "verdict" in documented


def test_a_url_its_manifest_gave_three_times_is_three_rows_of_videos_csv(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "repeats.sqlite")
    try:
        row = VideoRow(url="videos/a.mp4", video_id="0" * 16, performance=1.5, status=DONE, duration_s=4.0,
                       location="/srv/media/videos/a.mp4", repeats=2)
        store.record_video(row)
        store.record_video(VideoRow(url="videos/b.mp4", video_id="1" * 16, performance=0.5, status=DONE,
                                    location="/srv/media/videos/b.mp4"))
        store.record_video(VideoRow(**{**row.__dict__, "repeats": 0}))  # a later manifest listing it once
        paths = export_report(store, tmp_path / "out", root="/srv/media")
        with pytest.raises(ValueError, match="repeats -1 is out of range"):
            store.record_video(VideoRow(**{**row.__dict__, "repeats": -1}))
    finally:
        store.close()
    videos = pd.read_csv(paths["videos"], keep_default_na=False)
    assert videos["video_url"].tolist() == ["videos/a.mp4"] * 3 + ["videos/b.mp4"]
    assert videos["status"].tolist() == ["done", "duplicate", "duplicate", "done"]
    assert videos["error"][1] == "same URL as the row above (listed 3 times in the manifest)"
    assert videos["performance"].tolist() == [1.5, 1.5, 1.5, 0.5]
    assert set(videos["location"][:3]) == {"videos/a.mp4"}
