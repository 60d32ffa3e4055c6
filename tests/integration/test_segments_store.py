"""Segments kept on stored faces come back from the Qdrant Edge store, so re-clustering resends them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.identity.appearances import appearances_of
from services.identity.edge_store import EdgeFaceStore
from services.identity.facestore import FacePoint, FaceRecord, point_id
from services.identity.segments import Segment, to_flat

VIDEO = "00000000000000ab"


def test_segments_kept_on_a_face_survive_the_edge_store_and_reopening_it(tmp_path: Path) -> None:
    segments = [Segment(0.0, 3.5, 1.0, 0.7), Segment(8.0, 9.0, 8.5, 0.9)]
    store = EdgeFaceStore(tmp_path / "edge")
    record = FaceRecord(video_id=VIDEO, person=0, influencer_id="inf_aaaaaaaaaa", timestamp_s=1.0, quality=0.7,
                        segments=to_flat(segments))
    store.upsert([FacePoint(point_id(VIDEO, 0, 0), np.full(128, 0.08, np.float32), record)])
    store.close()
    again = EdgeFaceStore(tmp_path / "edge")
    try:
        (app,) = appearances_of(list(again.faces_where("video_id", [VIDEO])))
        assert app.segments == segments
    finally:
        again.close()
