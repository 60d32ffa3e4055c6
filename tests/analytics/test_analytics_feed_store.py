"""The store's side of identity's change feed (see the notes' feed spec), on a real SQLite file: positions,
idempotent replay, appearances that precede their video's record, snapshots, crops by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label

V1, V2, V3 = (f"{n:016x}" for n in (1, 2, 3))
ANN, BOB = "inf_00000000aa", "inf_00000000bb"


def seen(video_id: str, influencer_id: str, face: bytes = b"", ref: str = "", quality: float = 0.5) -> AppearanceRow:
    return AppearanceRow(video_id, influencer_id, 1.0, 3.0, 2, 2.0, quality, face, False, ref, ((1.0, 3.0, 2.0),))


def done(video_id: str, url: str | None = None) -> VideoRow:
    return VideoRow(url or f"/m/{video_id}.mp4", video_id, 1.0, DONE, duration_s=9.0, faces=2)


def test_a_new_store_is_at_position_zero_and_a_change_moves_it(store) -> None:
    assert store.feed_position() == 0
    store.apply_changes(3, {V1: [seen(V1, ANN, b"jpeg")]}, {ANN: "Ann"})
    assert store.feed_position() == 3
    assert store.names() == {ANN: "Ann"}


def test_a_change_replayed_at_or_below_the_position_changes_nothing(store) -> None:
    store.record_video(done(V1))
    store.apply_changes(2, {V1: [seen(V1, ANN, ref="r1")]}, {})
    version = store.version()
    assert store.apply_changes(2, {V1: [seen(V1, BOB, b"x")]}, {BOB: "Bob"}) == []
    assert store.apply_changes(1, {V1: []}, {}) == []
    assert [a.influencer_id for a in store.appearances_in(V1)] == [ANN]
    assert store.names() == {} and store.version() == version and store.feed_position() == 2


def test_appearances_before_their_video_is_recorded_count_only_once_it_is_done(store) -> None:
    store.apply_changes(1, {V1: [seen(V1, ANN, b"jpeg")]}, {})
    assert store.appearances_in(V1) == [] and store.appearances_of(ANN) == []
    assert store.appearance_frame().empty and store.best_face(ANN) is None
    store.record_video(VideoRow("/m/a.mp4", V1, 1.0, FAILED, "decode error"))
    assert store.appearances_of(ANN) == [], "a failed video's appearances do not count"
    store.record_video(done(V1, "/m/a.mp4"))
    assert [a.video_id for a in store.appearances_of(ANN)] == [V1]
    assert store.appearance_frame()["influencer_id"].tolist() == [ANN]
    assert store.best_face(ANN) == b"jpeg" and store.appearance_face(V1, ANN) == b"jpeg"


def test_once_following_the_feed_record_video_keeps_the_feeds_appearances(store) -> None:
    store.apply_changes(1, {V1: [seen(V1, ANN, b"jpeg")]}, {})
    store.record_video(done(V1), [seen(V1, BOB, b"other")])
    store.record_video(done(V1, "/m/again.mp4"), [])
    assert [a.influencer_id for a in store.appearances_in(V1)] == [ANN]


def test_an_empty_list_clears_a_video_and_forgotten_videos_lose_their_rows(store) -> None:
    for v in (V1, V2, V3):
        store.record_video(done(v))
    store.apply_changes(1, {v: [seen(v, ANN, b"j")] for v in (V1, V2, V3)}, {})
    store.apply_changes(2, {V1: []}, {}, forgotten=[V2])
    assert [a.video_id for a in store.appearances_of(ANN)] == [V3]


def test_labels_apply_after_the_names_and_an_erasure_removes_every_row(store) -> None:
    store.record_video(done(V1))
    store.apply_changes(1, {V1: [seen(V1, ANN, b"j"), seen(V1, BOB, b"k")]}, {ANN: "Ann", BOB: "Bob"})
    store.apply_changes(2, {}, {BOB: "Robert"}, [Label(ANN, "Ann", hidden=True), Label(BOB, deleted=True)])
    assert store.names() == {ANN: "Ann"} and store.hidden() == {ANN}
    assert [a.influencer_id for a in store.appearances_in(V1)] == [ANN]


def test_a_row_without_a_crop_takes_the_one_stored_under_its_ref_and_missing_refs_are_returned(store) -> None:
    store.apply_changes(1, {V1: [seen(V1, ANN, b"ann", ref="r1")]}, {})
    missing = store.apply_changes(2, {V2: [seen(V2, ANN, ref="r1"), seen(V2, BOB, ref="r2")]}, {})
    assert missing == ["r2"]
    store.record_video(done(V2))
    assert [a.best_face for a in store.appearances_in(V2)] == [b"ann", b""]
    assert store.missing_face_refs([V2]) == ["r2"]


def test_fill_crops_sets_only_empty_crops_and_counts_rows(store) -> None:
    store.apply_changes(1, {V1: [seen(V1, ANN, ref="r1"), seen(V1, BOB, b"kept", ref="r2")],
                            V2: [seen(V2, ANN, ref="r1")]}, {})
    assert store.fill_crops({"r1": b"ann", "r2": b"new", "unknown": b"x"}) == 2
    assert store.fill_crops({"r1": b"again"}) == 0
    store.record_video(done(V1))
    assert [a.best_face for a in store.appearances_in(V1)] == [b"ann", b"kept"]
    assert store.missing_face_refs([V1, V2]) == []


def test_a_snapshot_applies_pages_without_moving_the_position_and_its_end_drops_what_it_did_not_carry(store) -> None:
    store.apply_changes(5, {v: [seen(v, ANN, b"j")] for v in (V1, V2, V3)}, {})
    store.apply_changes(0, {V1: [seen(V1, BOB, b"k")]}, {BOB: "Bob"}, snapshot=True)
    assert store.feed_position() == 5
    store.apply_changes(0, {V2: [seen(V2, BOB, b"k")]}, {}, snapshot=True)
    store.end_snapshot(40, [V1, V2])
    assert store.feed_position() == 40
    for v in (V1, V2, V3):
        store.record_video(done(v))
    assert [a.video_id for a in store.appearances_of(BOB)] == [V1, V2]
    assert store.appearances_of(ANN) == [] and store.names() == {BOB: "Bob"}


def test_a_malformed_video_id_in_a_change_is_refused_and_nothing_moves(store) -> None:
    with pytest.raises(ValueError, match="16 lowercase hex digits"):
        store.apply_changes(1, {"../etc": []}, {})
    assert store.feed_position() == 0


def test_the_position_survives_a_reopen(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "a.sqlite3")
    store.apply_changes(7, {V1: [seen(V1, ANN, b"j")]}, {})
    store.close()
    reopened = AnalyticsStore(tmp_path / "a.sqlite3")
    try:
        assert reopened.feed_position() == 7
        assert reopened.apply_changes(7, {V1: []}, {}) == []
    finally:
        reopened.close()
