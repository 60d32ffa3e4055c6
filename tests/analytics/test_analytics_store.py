"""Integration tests of the SQLite store, on a real file in tmp_path."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.analytics.records import DONE, DUPLICATE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from tests.support.old_stores import URLS_VIDEOS_BEFORE_LOCATIONS


def done(url: str, video_id: str = "00000000000000aa", performance: float = 1.5) -> VideoRow:
    return VideoRow(url=url, video_id=video_id, performance=performance, status=DONE, duration_s=12.0,
                    faces=4)


def seen(
    influencer_id: str, quality: float = 0.5, face: bytes = b"jpeg", first: float = 1.0
) -> AppearanceRow:
    return AppearanceRow("", influencer_id, first, first + 2, 2, 2.0, quality, face, False)


def test_recording_a_done_video_stores_the_url_the_video_and_its_appearances(store) -> None:
    assert store.record_video(done("https://x/a.mp4?q=1 "), [seen("inf_a"), seen("inf_b")])
    assert store.get_video(url="https://x/a.mp4?q=1 ") == VideoRow(
        "https://x/a.mp4?q=1 ", "00000000000000aa", 1.5, DONE, "", 12.0, 4, "", "https://x/a.mp4?q=1 ")
    assert [a.influencer_id for a in store.appearances_in("00000000000000aa")] == ["inf_a", "inf_b"]
    assert store.video_frame()["url"].tolist() == ["https://x/a.mp4?q=1 "]


def test_recording_the_same_video_again_changes_nothing_and_returns_false(store) -> None:
    assert store.record_video(done("u1"), [seen("inf_a")])
    before = store.version()
    assert not store.record_video(done("u1"), [seen("inf_a")])
    assert store.version() == before


def test_a_second_url_with_the_same_bytes_counts_once(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    assert store.record_video(VideoRow("u2", "00000000000000aa", 1.5, DUPLICATE))
    assert store.record_video(done("u3"), [seen("inf_a")])  # DONE for known bytes under a new URL
    assert len(store.video_frame()) == 1
    assert store.get_video(video_id="00000000000000aa").url == "u1"
    statuses = [(v.url, v.status) for v in store.list_videos()]
    assert statuses == [("u1", DONE), ("u2", DUPLICATE), ("u3", DUPLICATE)]
    assert len(store.appearance_frame()) == 1


def test_the_lookups_of_many_videos_and_of_one_videos_rows_answer_as_the_whole_lists_do(store) -> None:
    """videos_by_id and rows_of_video (the influencer page, the video page and each byte range of its
    player) answer what get_video and a filter of list_videos() give, through indexes."""
    store.record_video(done("u1"), [seen("inf_a")])
    store.record_video(VideoRow("u2", "00000000000000aa", 1.5, DUPLICATE))
    store.record_video(done("u3", "00000000000000bb", 2.0), [seen("inf_a")])
    ids = ["00000000000000bb", "00000000000000aa", "00000000000000cc", "00000000000000aa"]
    assert store.videos_by_id(ids) == {i: store.get_video(video_id=i) for i in ids[:2]}
    assert store.videos_by_id([]) == {}
    for video_id in ("00000000000000aa", "00000000000000bb", "00000000000000cc", ""):
        assert store.rows_of_video(video_id) == [r for r in store.list_videos() if video_id and r.video_id == video_id]
    assert [r.url for r in store.rows_of_video("00000000000000aa")] == ["u1", "u2"]


def test_a_url_whose_bytes_changed_no_longer_counts_its_old_video(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    store.record_video(done("u1", "00000000000000bb"), [seen("inf_b")])
    assert store.video_frame()["video_id"].tolist() == ["00000000000000bb"]
    assert store.appearances_of("inf_a") == []


def test_when_the_first_url_changes_bytes_a_duplicate_url_takes_over_its_video(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    store.record_video(VideoRow("u2", "00000000000000aa", 1.5, DUPLICATE))
    store.record_video(done("u1", "00000000000000bb"), [seen("inf_b")])
    assert store.get_video(video_id="00000000000000aa").url == "u2"
    assert store.get_video(url="u2").status == DONE
    assert len(store.video_frame()) == 2


def test_two_appearances_of_one_influencer_in_a_video_merge_into_one_row(store) -> None:
    parts = [seen("inf_a", 0.2, b"low", first=5.0), seen("inf_a", 0.9, b"high", first=1.0)]
    store.record_video(done("u1"), parts)
    (row,) = store.appearances_in("00000000000000aa")
    assert (row.first_seen_s, row.last_seen_s, row.faces, row.best_face) == (1.0, 7.0, 4, b"high")


def test_re_recording_a_done_video_replaces_all_its_appearances(store) -> None:
    store.record_video(done("u1"), [seen("inf_a"), seen("inf_b")])
    assert store.record_video(done("u1"), [seen("inf_c")])
    assert [a.influencer_id for a in store.appearances_in("00000000000000aa")] == ["inf_c"]


def test_a_failed_url_keeps_its_error_and_is_not_a_done_video(store) -> None:
    assert store.record_video(VideoRow("u9", "", 1.0, FAILED, "decode error"))
    assert store.record_video(VideoRow("u8", "00000000000000bb", 1.0, FAILED, "too long"))
    assert store.get_video(url="u9").error == "decode error"
    assert store.get_video(video_id="00000000000000bb").status == FAILED
    assert store.video_frame().empty
    assert [v.url for v in store.list_videos(statuses=[FAILED])] == ["u9", "u8"]


def test_a_failure_under_another_url_does_not_undo_a_done_video(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    store.record_video(VideoRow("u2", "00000000000000aa", 1.0, FAILED, "timeout"))
    assert store.get_video(video_id="00000000000000aa").status == DONE
    assert len(store.appearances_in("00000000000000aa")) == 1


def test_a_failing_write_rolls_back_the_whole_record(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    broken = AppearanceRow("", "inf_b", 0.0, 1.0, 1, 1.0, 0.5, None, False)  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        store.record_video(done("u1", performance=2.0), [broken])
    assert store.get_video(url="u1").performance == 1.5
    assert [a.influencer_id for a in store.appearances_in("00000000000000aa")] == ["inf_a"]


def test_update_performance_changes_the_score_but_not_the_appearances(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    assert store.update_performance("u1", 2.25)
    assert not store.update_performance("u1", 2.25)
    with pytest.raises(KeyError):
        store.update_performance("unknown", 1.0)
    assert store.get_video(video_id="00000000000000aa").performance == 2.25
    assert store.video_frame()["performance"].tolist() == [2.25]
    assert len(store.appearances_in("00000000000000aa")) == 1


def test_replace_appearances_rewrites_known_videos_and_names_in_one_go(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    store.record_video(done("u2", "00000000000000bb"), [seen("inf_a")])
    replaced = store.replace_appearances(
        {"00000000000000aa": [seen("inf_z")], "ffffffffffffffff": [seen("inf_z")]}, {"inf_z": "Zoe"}
    )
    assert replaced == 1
    assert [a.influencer_id for a in store.appearances_in("00000000000000aa")] == ["inf_z"]
    assert [a.video_id for a in store.appearances_of("inf_z")] == ["00000000000000aa"]
    assert store.names() == {"inf_z": "Zoe"}


def test_best_face_is_the_highest_quality_over_all_videos(store) -> None:
    store.record_video(done("u1"), [seen("inf_a", 0.3, b"meh")])
    store.record_video(done("u2", "00000000000000bb"), [seen("inf_a", 0.8, b"best")])
    assert store.best_face("inf_a") == b"best"
    assert store.best_face("inf_nobody") is None
    assert "best_face" not in store.appearance_frame().columns


def test_the_store_survives_concurrent_writers_from_threads_and_reopens_from_disk(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "a.sqlite")
    threads = [
        threading.Thread(target=lambda i=i: store.record_video(done(f"u{i}", f"{i:016x}"), [seen("inf_a")]))
        for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    reopened = AnalyticsStore(tmp_path / "a.sqlite")
    assert len(reopened.video_frame()) == 16
    assert len(reopened.appearances_of("inf_a")) == 16
    reopened.close()


def located(url: str, location: str, video_id: str = "00000000000000aa", performance: float = 1.5,
            status: int = DONE, error: str = "") -> VideoRow:
    return VideoRow(url=url, video_id=video_id, performance=performance, status=status, error=error,
                    duration_s=12.0, faces=4, location=location)


def test_the_same_relative_name_in_two_folders_is_two_videos_with_their_own_scores(store) -> None:
    assert store.record_video(located("a.mp4", "/m1/a.mp4", "00000000000000aa", 1.0), [seen("inf_a")])
    assert store.record_video(located("a.mp4", "/m2/a.mp4", "00000000000000bb", 2.0), [seen("inf_b")])
    assert store.video_frame()[["url", "performance"]].values.tolist() == [["a.mp4", 1.0], ["a.mp4", 2.0]]
    assert [(v.url, v.location, v.performance) for v in store.list_videos()] == [
        ("a.mp4", "/m1/a.mp4", 1.0), ("a.mp4", "/m2/a.mp4", 2.0)]
    assert store.get_video(location="/m2/a.mp4").video_id == "00000000000000bb"
    assert store.get_video(video_id="00000000000000aa").location == "/m1/a.mp4"


def test_the_same_bytes_at_a_second_location_are_a_duplicate_of_the_first(store) -> None:
    store.record_video(located("a.mp4", "/m1/a.mp4"), [seen("inf_a")])
    store.record_video(located("a.mp4", "/m2/a.mp4"), [seen("inf_a")])
    assert [v.status for v in store.list_videos()] == [DONE, DUPLICATE]
    assert len(store.video_frame()) == 1


def test_a_failed_rerun_keeps_the_result_and_notes_the_error_until_the_row_is_good_again(store) -> None:
    store.record_video(located("a.mp4", "/m1/a.mp4", performance=1.0), [seen("inf_a")])
    store.record_video(located("b.mp4", "/m1/b.mp4", "00000000000000bb", 2.0), [seen("inf_b")])
    store.record_video(located("c.mp4", "/m1/c.mp4", "00000000000000bb", 2.0, status=DUPLICATE))
    bad = "a.mp4: line 2: performance 'abc' is not a number"
    for row in (located("a.mp4", "/m1/a.mp4", "", None, FAILED, bad),
                located("c.mp4", "/m1/c.mp4", "", None, FAILED, "c.mp4: file not found")):
        assert store.record_video(row) == (row.url == "a.mp4")
    kept = store.get_video(location="/m1/a.mp4")
    assert (kept.status, kept.performance, kept.video_id, kept.error) == (DONE, 1.0, "00000000000000aa", bad)
    assert store.get_video(location="/m1/c.mp4").status == DUPLICATE
    assert store.video_frame()["performance"].tolist() == [1.0, 2.0]
    assert [a.influencer_id for a in store.appearances_in("00000000000000aa")] == ["inf_a"]
    assert store.update_performance("/m1/a.mp4", 1.0)  # same score, but the note goes
    assert store.get_video(location="/m1/a.mp4").error == ""


def test_a_data_dir_from_before_locations_is_migrated_and_its_rows_move_to_their_location(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(URLS_VIDEOS_BEFORE_LOCATIONS)
    old.execute("INSERT INTO urls VALUES ('b.mp4', '00000000000000bb', 2.0, ?, '', '', 1)", (DONE,))
    old.execute("INSERT INTO urls VALUES ('a.mp4', '00000000000000aa', 1.0, ?, '', 'x1', 2)", (DONE,))
    old.execute("INSERT INTO videos VALUES ('00000000000000bb', 'b.mp4', 2.0, ?, '', 5.0, 1)", (DONE,))
    old.execute("INSERT INTO videos VALUES ('00000000000000aa', 'a.mp4', 1.0, ?, '', 5.0, 1)", (DONE,))
    old.commit()
    old.close()
    store = AnalyticsStore(path)
    try:
        assert [(v.url, v.location, v.external_id) for v in store.list_videos()] == [
            ("b.mp4", "b.mp4", ""), ("a.mp4", "a.mp4", "x1")]
        # The same bytes seen again at their resolved location: the old row moves there, still done.
        store.record_video(located("a.mp4", "/m1/a.mp4", performance=1.5, status=DUPLICATE))
        moved = store.get_video(location="/m1/a.mp4")
        assert (moved.status, moved.performance, moved.url) == (DONE, 1.5, "a.mp4")
        assert store.get_video(location="a.mp4") is None
        assert store.get_video(video_id="00000000000000aa").location == "/m1/a.mp4"
        assert len(store.video_frame()) == 2
    finally:
        store.close()
    AnalyticsStore(path).close()  # a migrated store opens again as it is


@pytest.mark.parametrize("video_id", ["../../etc/passwd", "00000000000000AA", "0" * 17, "xyz"])
def test_a_malformed_video_id_is_refused(store, video_id: str) -> None:
    with pytest.raises(ValueError, match="16 lowercase hex digits"):
        store.record_video(done("u1", video_id), [seen("inf_a")])


@pytest.mark.parametrize("performance", [float("nan"), float("inf"), float("-inf")])
def test_a_score_that_is_not_a_finite_number_is_refused(store, performance: float) -> None:
    with pytest.raises(ValueError, match="performance"):
        store.record_video(done("u1", performance=performance), [seen("inf_a")])
