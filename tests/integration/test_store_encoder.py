"""The face store records the encoder that fills it, and identity runs that one (services/identity/encoder_choice.py,
process.start_workers): a new store is filled by OpenCV's run of dlib's encoder on each chip and its mirror, an
older release's by dlib, every replica sharing a store runs its encoder, and an explicit INFLUENCERS_ENCODER
contradicting it is refused at start, with what was opened closed again. On Qdrant Edge on disk, and on the server
adapter (qdrant-client's local mode standing in for the server)."""

import numpy as np
import pytest
from qdrant_client import QdrantClient

from services.common.settings import Settings, SettingsError
from services.identity.edge_store import EdgeFaceStore
from services.identity.facestore import FacePoint, FaceRecord, point_id, vector_hash
from services.identity.process import IdentityProcess
from services.identity.server_store import ServerFaceStore


def settings(data_dir, **values) -> Settings:
    return Settings(data_dir=data_dir, identity_port=0, workers=1, **values)


def test_a_new_store_is_filled_by_opencv_mirror_and_records_it_and_an_explicit_dlib_or_opencv_is_then_refused(
        tmp_path):
    first = IdentityProcess(settings(tmp_path))
    try:
        assert first.encoder == "opencv-mirror" and first.store.recorded_encoder() == "opencv-mirror"
    finally:
        first.stop(0)
    edge = tmp_path / "qdrant" / "edge"
    with pytest.raises(SettingsError) as refused:
        IdentityProcess(settings(tmp_path, encoder="dlib"))
    assert str(refused.value).startswith(f"INFLUENCERS_ENCODER=dlib: the face store {edge} was filled by the "
                                         "opencv-mirror encoder (as it records)")
    with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER=opencv: .* filled by the opencv-mirror encoder"):
        IdentityProcess(settings(tmp_path, encoder="opencv"))  # the same network, but its hashes are another's
    again = IdentityProcess(settings(tmp_path, encoder="opencv-mirror"))  # the refusal closed the store it opened
    try:
        assert again.encoder == "opencv-mirror"
    finally:
        again.stop(0)


def test_an_older_releases_store_goes_on_with_dlib_recorded_and_refuses_opencv(tmp_path):
    older = EdgeFaceStore(tmp_path / "qdrant" / "edge")  # faces and no record: as a release before the record left it
    vector = np.full(128, 0.01)
    older.upsert([FacePoint(point_id("v1", 0, 0), vector.astype(np.float32), FaceRecord(
        video_id="v1", person=0, influencer_id="i1", vhash=vector_hash(vector)))])
    older.close()
    with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER=opencv: .* filled by the dlib encoder \(a store of "
                                            r"an older release"):
        IdentityProcess(settings(tmp_path, encoder="opencv"))
    process = IdentityProcess(settings(tmp_path))
    try:
        assert process.encoder == "dlib" and process.store.recorded_encoder() == "dlib"
    finally:
        process.stop(0)


def test_replicas_sharing_a_server_store_all_run_the_encoder_it_records(tmp_path):
    shared = ServerFaceStore(QdrantClient(path=str(tmp_path / "server")), "faces")
    started = []
    try:
        started.append(IdentityProcess(settings(tmp_path / "a", encoder="dlib"), shared))  # a new store, dlib asked
        started.append(IdentityProcess(settings(tmp_path / "b"), shared))
        assert [p.encoder for p in started] == ["dlib", "dlib"] and shared.recorded_encoder() == "dlib"
        with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER=opencv: the face store 'faces' \(a Qdrant "
                                                r"server's collection\) was filled by the dlib encoder"):
            IdentityProcess(settings(tmp_path / "c", encoder="opencv"), shared)
        assert shared.healthy(), "a refused replica leaves the shared store open"
    finally:
        for process in started:
            process.server.stop(0)
            process.workers.close()
            process.feed.close()
            process.writer_lock.close()
        shared.close()
