"""Appearance segments through analytics: from the proto to SQLite (and old data dirs), onto the influencer
page as a timeline; verdicts and the attributed-effect note on the served page, the JSON API and the CSVs."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests

from influencers.stack import WebServer
from influencers.v1 import common_pb2
from services.analytics.export import export_report
from services.analytics.records import DONE, AppearanceRow, VideoRow, appearance_from_proto, appearance_to_proto
from services.analytics.store import AnalyticsStore
from services.analytics.verdicts import VERDICTS
from services.analytics.web import create_app
from services.common.protoconv import duration
from tests.support.old_stores import APPEARANCES_BEFORE_SEGMENTS, URLS_VIDEOS_BEFORE_ALEMBIC

VID = "00000000000000aa"
ANN = "inf_aaaa000001"


def segment(start: float, end: float, best: float) -> common_pb2.Segment:
    return common_pb2.Segment(start=duration(start), end=duration(end), best=duration(best))


def test_segments_travel_from_the_proto_to_the_row_and_back() -> None:
    msg = common_pb2.Appearance(influencer_id=ANN, segments=[segment(0.0, 3.0, 1.0), segment(8.0, 9.5, 9.0)])
    row = appearance_from_proto(VID, msg)
    assert row.segments == ((0.0, 3.0, 1.0), (8.0, 9.5, 9.0))
    assert appearance_to_proto(row).segments == msg.segments


def test_a_segment_that_ends_before_it_starts_is_dropped_on_arrival() -> None:
    # A Duration is always finite: a NaN or an infinity cannot arrive, so only the order is checked.
    msg = common_pb2.Appearance(influencer_id=ANN, segments=[segment(5.0, 4.0, 4.5), segment(6.0, 7.0, 6.5)])
    assert appearance_from_proto(VID, msg).segments == ((6.0, 7.0, 6.5),)


def test_the_store_keeps_segments_and_replacing_appearances_replaces_them(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "a.sqlite")
    try:
        store.record_video(VideoRow(url="a.mp4", video_id=VID, performance=1.0, status=DONE, duration_s=20.0),
                           [AppearanceRow(VID, ANN, segments=((0.0, 3.0, 1.0), (8.0, 9.5, 9.0)))])
        assert store.appearances_of(ANN)[0].segments == ((0.0, 3.0, 1.0), (8.0, 9.5, 9.0))
        store.replace_appearances({VID: [AppearanceRow(VID, ANN, segments=((2.0, 4.0, 3.0),))]}, {})
        assert store.appearances_in(VID)[0].segments == ((2.0, 4.0, 3.0),)
    finally:
        store.close()


def test_a_data_dir_from_before_segments_gains_the_column_and_its_appearances_have_none(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(URLS_VIDEOS_BEFORE_ALEMBIC + APPEARANCES_BEFORE_SEGMENTS)
        old.execute("INSERT INTO urls VALUES ('/d/a.mp4', 'a.mp4', ?, 1.0, 3, '', '', 0)", (VID,))
        old.execute("INSERT INTO videos VALUES (?, 'a.mp4', 1.0, 3, '', 5.0, 2, '/d/a.mp4')", (VID,))
        old.execute("INSERT INTO appearances VALUES (?, ?, 1, 4, 2, 3, 0.5, X'FFD8', 0, 'r1')", (VID, ANN))
    store = AnalyticsStore(path)
    try:
        (row,) = store.appearances_in(VID)
        assert row.segments == () and (row.first_seen_s, row.last_seen_s, row.face_ref) == (1.0, 4.0, "r1")
    finally:
        store.close()
    reopened = AnalyticsStore(path)  # a second open finds the column and adds nothing
    reopened.close()


@pytest.fixture
def served(analytics_store: AnalyticsStore) -> Iterator[tuple[str, AnalyticsStore]]:
    store = analytics_store
    store.record_video(VideoRow(url="https://cdn.example.com/seg.mp4", video_id=VID, performance=2.0, status=DONE,
                                duration_s=20.0),
                       [AppearanceRow(VID, ANN, first_seen_s=0.0, last_seen_s=12.0, faces=4, best_face=b"\xff\xd8",
                                      segments=((0.0, 5.0, 2.0), (10.0, 12.0, 11.0)))])
    server = WebServer(create_app(store), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}", store
    finally:
        server.shutdown()


def test_the_influencer_page_draws_each_videos_segments_with_the_best_face_marked(served) -> None:
    url, _ = served
    page = requests.get(f"{url}/influencer/{ANN}", timeout=10).text
    assert '<rect class="seg" x="0.0" y="4" width="250.0"' in page
    assert '<rect class="seg" x="500.0" y="4" width="100.0"' in page
    assert "best face at 11.0 s" in page
    assert 'class="seg approx"' in page, "planted rows without segments draw first to last seen, marked"


def test_the_overview_and_the_influencer_page_show_the_verdict_and_explain_the_attributed_effect(served) -> None:
    url, _ = served
    overview = requests.get(url + "/", timeout=10).text
    influencer = requests.get(f"{url}/influencer/{ANN}", timeout=10).text
    for page in (overview, influencer):
        assert 'class="verdict ' in page
        assert "ridge regression of each video's score on who appears in it" in page
        assert "#about-effect" in page
    assert 'id="about-effect"' in overview


def test_the_json_api_and_the_influencers_csv_carry_one_verdict_per_influencer(served, tmp_path: Path) -> None:
    url, store = served
    rows = requests.get(url + "/api/influencers.json", timeout=10).json()
    assert rows and all(r["verdict"] in VERDICTS for r in rows)
    download = pd.read_csv(io.StringIO(requests.get(url + "/download/influencers.csv", timeout=10).text))
    exported = pd.read_csv(export_report(store, tmp_path / "out")["influencers"])
    for frame in (download, exported):
        # verdict came last; the columns added since go after it (p_value, q_value, ambiguous_videos).
        assert list(frame.columns[-4:]) == ["verdict", "p_value", "q_value", "ambiguous_videos"]
        assert dict(zip(frame["influencer_id"], frame["verdict"], strict=True)) == {
            r["influencer_id"]: r["verdict"] for r in rows}
