"""The export contract: file names, column names and orders, faces on disk, report.json."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from services.analytics.export import STALE_PARTIAL_S, export_report, neutralise_cell, to_safe_csv
from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label

FORMULAS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_the_export_writes_every_file_with_the_contract_columns(analytics_store, tmp_path: Path) -> None:
    paths = export_report(analytics_store, tmp_path / "out")
    assert set(paths) == {"influencers", "appearances", "videos", "audit", "faces", "report"}
    assert list(pd.read_csv(paths["audit"]).columns) == [
        "time_utc", "actor", "action", "what", "before_ids", "after_ids", "videos", "faces", "subject_hmac", "undoes",
        "audit_id", "feed_position"]
    influencers = pd.read_csv(paths["influencers"])
    assert list(influencers.columns[:6]) == [
        "influencer_id", "videos", "avg_performance", "median_performance", "std_performance",
        "representative_image"]
    assert list(pd.read_csv(paths["appearances"]).columns) == [
        "video_url", "influencer_id", "first_seen_s", "last_seen_s", "faces", "video_id", "hidden"]
    assert list(pd.read_csv(paths["videos"]).columns) == [
        "video_url", "performance", "status", "error", "duration_s", "faces", "location", "video_id"]


def test_every_representative_image_is_a_decodable_jpeg_under_faces(analytics_store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    influencers = pd.read_csv(export_report(analytics_store, out)["influencers"])
    assert len(influencers) == 4
    for influencer_id, relative in zip(influencers["influencer_id"], influencers["representative_image"],
                                       strict=True):
        assert relative == f"faces/{influencer_id}.jpg"
        image = cv2.imdecode(np.frombuffer((out / relative).read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 0


def test_videos_csv_has_one_row_per_manifest_url_with_lower_case_status(
    analytics_store, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = export_report(analytics_store, out)
    videos = pd.read_csv(paths["videos"], keep_default_na=False)
    assert len(videos) == 32
    assert videos["video_url"].is_unique
    assert set(videos["status"]) == {"done", "duplicate", "failed"}
    failed = videos[videos["status"] == "failed"].iloc[0]
    assert failed["video_url"] == "https://cdn.example.com/broken.mp4"
    assert failed["error"] == "HTTP 404 while fetching"
    appearances = pd.read_csv(paths["appearances"])
    assert set(appearances["video_url"]) <= set(videos["video_url"])
    assert "https://cdn.example.com/v/0.mp4?a=1&b=2" in set(appearances["video_url"])
    assert "https://mirror.example.com/same-bytes.mp4" not in set(appearances["video_url"])


def test_report_json_carries_the_model_quality(analytics_store, tmp_path: Path) -> None:
    report = json.loads(export_report(analytics_store, tmp_path / "out")["report"].read_text())
    assert report["videos"] == 30
    assert set(report["model"]) == {"mae", "r2", "baseline_mae", "baseline_r2", "folds", "videos", "residual_low",
                                    "residual_high", "interval_level"}
    assert report["model_available"] is True and report["model_unavailable_reason"] == ""
    assert report["model"]["mae"] < report["model"]["baseline_mae"]


def test_an_empty_store_exports_headers_only(analytics_empty_store, tmp_path: Path) -> None:
    paths = export_report(analytics_empty_store, tmp_path / "out")
    assert pd.read_csv(paths["influencers"]).empty
    assert list(pd.read_csv(paths["videos"]).columns)[0] == "video_url"


def test_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote() -> None:
    assert [neutralise_cell(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]
    assert [neutralise_cell(v) for v in ("a.mp4", "https://x/y", "", -1.5, 3)] == ["a.mp4", "https://x/y", "",
                                                                                   -1.5, 3]


def test_a_text_cell_hiding_a_formula_after_a_semicolon_is_quoted_whole_so_no_list_separator_splits_it() -> None:
    """Excel set to a `;` list separator (German, French Windows) splits a comma file's unquoted line at each `;`:
    `a.mp4;=cmd|' /C calc'!A0` gave a cell `=cmd|...` that ran, whatever `'` stood in front of the line. Every
    text cell is quoted now (OWASP's rule); numbers and empty cells stay bare."""
    frame = pd.DataFrame({"video_url": ["a.mp4;=cmd|' /C calc'!A0", "b.mp4", None],
                          "performance": [1.5, float("nan"), 2.0]})
    text = to_safe_csv(frame)
    assert text == ('video_url,performance\r\n"a.mp4;=cmd|\' /C calc\'!A0",1.5\r\n"b.mp4",\r\n,2.0\r\n')
    as_semicolon_excel_reads_it = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    assert not [cell for row in as_semicolon_excel_reads_it for cell in row if cell.startswith(("=", "+", "-", "@"))]
    read = pd.read_csv(io.StringIO(text))
    assert read["video_url"].fillna("").tolist() == ["a.mp4;=cmd|' /C calc'!A0", "b.mp4", ""]
    assert read["performance"].dtype.kind == "f"


def test_every_text_cell_of_every_exported_csv_is_neutralised_and_numbers_stay_numbers(
    tmp_path: Path, analytics_jpeg
) -> None:
    store = AnalyticsStore(tmp_path / "hostile.sqlite")
    try:
        for k, formula in enumerate(FORMULAS):
            video_id = f"{k:016x}"
            store.record_video(VideoRow(url=formula + f"{k}.mp4", video_id=video_id, performance=1.0 + k,
                                        status=DONE, duration_s=5.0),
                               [AppearanceRow(video_id, "inf_aaaa000001", 0.0, 1.0, 1, 1.0, 0.5, analytics_jpeg(k)),
                                AppearanceRow(video_id, f"inf_{k:010x}", 0.0, 1.0, 1, 1.0, 0.5, b"")])
        store.record_video(VideoRow(url="-broken.mp4", performance=2.0, status=FAILED, error="=cmd|' /C calc'!A0"))
        store.replace_appearances({}, {"inf_aaaa000001": "@Alice", "inf_0000000001": "-Bob"})
        paths = export_report(store, tmp_path / "out")
    finally:
        store.close()
    videos = pd.read_csv(paths["videos"], keep_default_na=False)
    assert set(videos["video_url"]) == {"'" + f + f"{k}.mp4" for k, f in enumerate(FORMULAS)} | {"'-broken.mp4"}
    assert videos[videos["status"] == "failed"]["error"].tolist() == ["'=cmd|' /C calc'!A0"]
    assert videos["performance"].dtype.kind == "f" and videos["faces"].dtype.kind == "i"
    influencers = pd.read_csv(paths["influencers"], keep_default_na=False)
    assert set(influencers["name"]) == {"'@Alice", "'-Bob", ""}
    assert influencers["attributed_effect"].dtype.kind == "f"
    appearances = pd.read_csv(paths["appearances"])
    for path in (paths["videos"], paths["influencers"], paths["appearances"]):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            assert not line.startswith(("=", "+", "@", "\t", "\r")), line
    assert all(u.startswith("'") for u in appearances["video_url"])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_export_meeting_a_full_disk_leaves_the_previous_report_whole_and_the_next_export_succeeds(
        analytics_store, tmpfs) -> None:
    disk = tmpfs("2m")
    out = disk / "report"
    export_report(analytics_store, out)
    before = _files(out)
    for k in range(200):  # videos.csv grows by about 40 kB
        analytics_store.record_video(VideoRow(url=f"https://cdn.example.com/more/{k:04d}/{'x' * 150}.mp4",
                                              video_id=f"{k:016x}", performance=1.0, status=FAILED, error="HTTP 404"))
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:  # the disk full to its last byte
        try:
            while True:
                f.write(bytes(4096))
        except OSError:
            pass
    with pytest.raises(OSError, match="No space left on device") as err:
        export_report(analytics_store, out)
    assert err.value.filename is not None and Path(err.value.filename).parent in (out, out / "faces")
    assert _files(out) == before  # every file of the last export, whole; no temporary file left
    filler.unlink()
    export_report(analytics_store, out)
    assert len(pd.read_csv(out / "videos.csv")) == len(pd.read_csv(io.BytesIO(before["videos.csv"]))) + 200
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]


def test_influencers_export_to_a_full_disk_is_one_line_naming_the_file_and_what_to_do(tmp_path, tmpfs, capsys) -> None:
    from influencers.cli import main

    data = tmp_path / "data"
    data.mkdir()
    store = AnalyticsStore(data / "analytics.sqlite3")
    store.record_video(VideoRow(url="a.mp4", video_id="00000000000000a1", performance=1.0, status=FAILED,
                                error="HTTP 404"))
    store.close()
    disk = tmpfs("1m")
    with (disk / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(bytes(4096))
        except OSError:
            pass
    assert main(["export", "--data-dir", str(data), "--out", str(disk / "report")]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith(f"influencers: error: export: cannot use {disk / 'report'}/")
    assert said.endswith("(No space left on device); free some space and run the same command again")
    assert "\n" not in said and not [p for p in (disk / "report").rglob("*") if p.is_file()]


def test_temporary_files_an_export_killed_part_way_left_are_removed_by_the_next_once_an_hour_old(
        analytics_store, tmp_path: Path) -> None:
    out = tmp_path / "report"
    (out / "faces").mkdir(parents=True)
    stale = [out / ".videos.csv.1a2b3c4d.partial", out / "faces" / ".inf_a.jpg.0badcafe.partial"]
    fresh = out / ".influencers.csv.12345678.partial"  # another export, writing now
    theirs = out / ".notes.partial"  # not of the export's naming
    for path in [*stale, fresh, theirs]:
        path.write_bytes(b"cut sh")
    hour_ago = time.time() - STALE_PARTIAL_S - 60
    for path in [*stale, theirs]:
        os.utime(path, (hour_ago, hour_ago))
    export_report(analytics_store, out)
    assert [p.exists() for p in stale] == [False, False]
    assert fresh.exists() and theirs.exists()


def test_appearances_csv_says_which_appearances_are_of_someone_marked_not_an_influencer(
        analytics_store, tmp_path: Path) -> None:
    # Was: listed like the others, while influencers.csv left that person out, so they joined no row of it.
    analytics_store.replace_appearances({}, {}, [Label("inf_bbbb000002", hidden=True)])
    paths = export_report(analytics_store, tmp_path / "out")
    appearances = pd.read_csv(paths["appearances"])
    listed = set(pd.read_csv(paths["influencers"])["influencer_id"])
    assert "inf_bbbb000002" not in listed
    assert set(appearances[appearances["hidden"]]["influencer_id"]) == {"inf_bbbb000002"}
    assert set(appearances[~appearances["hidden"]]["influencer_id"]) == listed
