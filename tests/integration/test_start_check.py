"""At start the in-process stack compares identity's and analytics' people (influencers/startcheck.py), with
the real embedded stores: Qdrant Edge and SQLite in a temp dir."""

import numpy as np

from influencers.startcheck import compare_views, identity_people
from influencers.v1 import common_pb2
from services.analytics.records import AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.identity.appearances import UNCONFIRMED
from services.identity.edge_store import EdgeFaceStore
from services.identity.facestore import FacePoint, FaceRecord, point_id

SEEN, LONE = "00000000000000a1", "00000000000000a2"
ANN = "inf_00000000a1"


def faces_of_ann_and_of_a_lone_doubtful_person(tmp_path) -> EdgeFaceStore:
    faces = EdgeFaceStore(tmp_path / "edge")
    faces.upsert([FacePoint(point_id(video, 0, k), np.full(128, k, np.float32), FaceRecord(video, 0, who))
                  for video, who in ((SEEN, ANN), (LONE, UNCONFIRMED)) for k in range(3)])
    return faces


def analytics_listing_ann(tmp_path, position: int) -> AnalyticsStore:
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    done = common_pb2.VIDEO_STATUS_DONE
    store.record_video(VideoRow(url="a1.mp4", video_id=SEEN, performance=1.0, status=done), [])
    store.record_video(VideoRow(url="a2.mp4", video_id=LONE, performance=2.0, status=done), [])
    store.apply_changes(position, {SEEN: [AppearanceRow(SEEN, ANN, 0.0, 2.0, 3)], LONE: []}, {})
    return store


def test_a_lone_doubtful_persons_faces_are_no_influencer_identity_holds(tmp_path):
    faces = faces_of_ann_and_of_a_lone_doubtful_person(tmp_path)
    try:
        assert identity_people(faces) == {ANN}
    finally:
        faces.close()


def test_a_start_after_a_whole_run_with_a_lone_doubtful_person_neither_warns_nor_replays_the_feed(tmp_path):
    faces = faces_of_ann_and_of_a_lone_doubtful_person(tmp_path)
    store = analytics_listing_ann(tmp_path, position=7)
    try:
        assert compare_views(faces, 7, store) == ""
        assert store.feed_position() == 7
    finally:
        faces.close()


def test_analytics_lacking_one_person_is_rebuilt_and_said_in_the_singular(tmp_path):
    faces = faces_of_ann_and_of_a_lone_doubtful_person(tmp_path)
    faces.upsert([FacePoint(point_id("00000000000000a3", 0, 0), np.ones(128, np.float32),
                            FaceRecord("00000000000000a3", 0, "inf_00000000a3"))])
    store = analytics_listing_ann(tmp_path, position=7)
    try:
        said = compare_views(faces, 7, store)
        # was "1 influencers"
        assert said.startswith("analytics lacks 1 influencer identity holds (e.g. inf_00000000a3)")
        assert store.feed_position() == 0, "replayed from the start"
    finally:
        faces.close()
