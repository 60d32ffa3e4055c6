"""Analytics over real gRPC on loopback: ListVideos pages, and appearances that travel with a face_ref
instead of their crop keep the crop already recorded (an old data dir gains the column on open)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc
import pytest

from influencers.v1 import analytics_pb2, common_pb2
from services.analytics.records import DONE, AppearanceRow, VideoRow, appearance_from_proto
from services.analytics.store import AnalyticsStore
from tests.support.old_stores import APPEARANCES_BEFORE_FACE_REFS, URLS_VIDEOS_BEFORE_LOCATIONS

ANN, BOB = "inf_aaaa000001", "inf_bbbb000002"


def vid(k: int) -> str:
    return f"{k:016x}"


def record(stub, k: int, status: int = common_pb2.VIDEO_STATUS_DONE, *appearances: common_pb2.Appearance,
           store: AnalyticsStore | None = None) -> None:
    stub.RecordVideo(analytics_pb2.RecordVideoRequest(
        video=common_pb2.Video(url=f"https://x/{k}.mp4", video_id=vid(k), performance=1.0, status=status)))
    if appearances:  # apart from the row, as identity's feed brings them: the follower writes the store
        assert store is not None
        replace(store, k, *appearances)


def replace(store: AnalyticsStore, k: int, *appearances: common_pb2.Appearance) -> int:
    """What the feed's follower does with a change carrying video k's appearances."""
    return store.replace_appearances({vid(k): [appearance_from_proto(vid(k), a) for a in appearances]}, {})


def by_ref(influencer_id: str, face_ref: str, crop: bytes = b"") -> common_pb2.Appearance:
    return common_pb2.Appearance(influencer_id=influencer_id, faces=2, face_quality=0.5, face_ref=face_ref,
                                 best_face=crop)


def test_list_videos_pages_through_every_row_in_order(stub) -> None:
    for k in range(5):
        record(stub, k + 1)
    pages, token = [], ""
    while True:
        reply = stub.ListVideos(analytics_pb2.ListVideosRequest(page_size=2, page_token=token))
        pages.append([v.video_id for v in reply.videos])
        token = reply.next_page_token
        if not token:
            break
    assert pages == [[vid(1), vid(2)], [vid(3), vid(4)], [vid(5)]]
    everything = stub.ListVideos(analytics_pb2.ListVideosRequest())
    assert len(everything.videos) == 5 and everything.next_page_token == ""


def test_list_videos_pages_a_status_filter_without_empty_pages_in_between(stub) -> None:
    for k in range(6):
        record(stub, k + 1, common_pb2.VIDEO_STATUS_DONE if k % 2 else common_pb2.VIDEO_STATUS_FAILED)
    done = [common_pb2.VIDEO_STATUS_DONE]
    first = stub.ListVideos(analytics_pb2.ListVideosRequest(statuses=done, page_size=2))
    second = stub.ListVideos(analytics_pb2.ListVideosRequest(statuses=done, page_size=2,
                                                          page_token=first.next_page_token))
    assert [v.video_id for v in first.videos] == [vid(2), vid(4)]
    assert [v.video_id for v in second.videos] == [vid(6)] and second.next_page_token == ""


@pytest.mark.parametrize("request_", [analytics_pb2.ListVideosRequest(page_token="not-a-token"),
                                      analytics_pb2.ListVideosRequest(page_size=-1)])
def test_a_bad_page_token_or_size_is_an_invalid_argument(stub, request_) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.ListVideos(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_appearance_sent_by_face_ref_keeps_the_crop_recorded_with_it(stub, store) -> None:
    record(stub, 1, common_pb2.VIDEO_STATUS_DONE, by_ref(ANN, "ref-1", b"\xff\xd8crop1"), store=store)
    assert replace(store, 1, by_ref(BOB, "ref-1")) == 1
    assert store.missing_face_refs([vid(1)]) == []
    (row,) = store.appearances_in(vid(1))
    assert (row.influencer_id, row.face_ref, row.best_face) == (BOB, "ref-1", b"\xff\xd8crop1")


def test_a_face_ref_analytics_has_no_crop_for_is_listed_and_filled_when_sent_again(stub, store) -> None:
    record(stub, 1, common_pb2.VIDEO_STATUS_DONE, by_ref(ANN, "ref-1", b"\xff\xd8crop1"), store=store)
    replace(store, 1, by_ref(ANN, "ref-1"), by_ref(BOB, "new"))
    assert store.missing_face_refs([vid(1)]) == ["new"]
    replace(store, 1, by_ref(ANN, "ref-1"), by_ref(BOB, "new", b"\xff\xd8crop2"))
    assert store.missing_face_refs([vid(1)]) == []
    assert {r.face_ref: r.best_face for r in store.appearances_in(vid(1))} == {
        "ref-1": b"\xff\xd8crop1", "new": b"\xff\xd8crop2"}


def test_a_data_dir_from_before_face_refs_gains_the_column_and_keeps_its_crops(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(URLS_VIDEOS_BEFORE_LOCATIONS + APPEARANCES_BEFORE_FACE_REFS)
        old.execute("INSERT INTO urls VALUES ('a.mp4', ?, 1.0, 3, '', '', 0)", (vid(1),))
        old.execute("INSERT INTO videos VALUES (?, 'a.mp4', 1.0, 3, '', 5.0, 2)", (vid(1),))
        old.execute("INSERT INTO appearances VALUES (?, ?, 0, 1, 2, 1, 0.5, X'FFD8', 0)", (vid(1), ANN))
    store = AnalyticsStore(path)
    try:
        (row,) = store.appearances_in(vid(1))
        assert row.face_ref == "" and row.best_face == b"\xff\xd8"
        store.replace_appearances({vid(1): [AppearanceRow(vid(1), BOB, face_ref="r1")]}, {})
        assert store.missing_face_refs([vid(1)]) == ["r1"], "an old crop has no ref: fetched again by ref"
        store.record_video(VideoRow(url="b.mp4", video_id=vid(2), status=DONE),
                           [AppearanceRow(vid(2), ANN, best_face=b"\xff\xd8b", face_ref="r2")])
        assert store.appearances_in(vid(2))[0].face_ref == "r2"
    finally:
        store.close()
