"""Integration tests of the SQLite store, on a real file in tmp_path."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from services.analytics.records import DONE, DUPLICATE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore


@pytest.fixture
def store(tmp_path: Path):
    s = AnalyticsStore(tmp_path / "a.sqlite")
    yield s
    s.close()


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
        "https://x/a.mp4?q=1 ", "00000000000000aa", 1.5, DONE, "", 12.0, 4, "")
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
    with pytest.raises(sqlite3.IntegrityError):
        store.record_video(done("u1", performance=2.0), [broken])
    assert store.get_video(url="u1").performance == 1.5
    assert [a.influencer_id for a in store.appearances_in("00000000000000aa")] == ["inf_a"]


def test_update_performance_changes_the_score_but_not_the_appearances(store) -> None:
    store.record_video(done("u1"), [seen("inf_a")])
    assert store.update_performance("u1", 2.25)
    assert not store.update_performance("u1", 2.25)
    assert not store.update_performance("unknown", 1.0)
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
