"""tools/fit_review_model.py's guards on encodings: one model is fitted on one encoder's distances, the photos'
and the runs' alike."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def tool():
    spec = importlib.util.spec_from_file_location("fit_review_model", ROOT / "tools" / "fit_review_model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cache(path: Path, encoder: str | None) -> Path:
    extra = {} if encoder is None else {"encoder": np.array(encoder)}
    np.savez(path, names=np.array(["ann", "ann", "bob"]), vectors=np.eye(3, 128), qualities=np.array([0.9, 0.8, 0.7]),
             **extra)
    return path


def test_a_photos_cache_made_by_the_runs_encoder_is_read_back_by_person(tmp_path: Path) -> None:
    faces = tool().cached_photo_faces(tmp_path / "no-photos", cache(tmp_path / "photos.npz", "opencv-mirror"),
                                      "opencv-mirror")
    assert sorted(faces) == ["ann", "bob"] and [q for _, q in faces["ann"]] == [0.9, 0.8]
    assert faces["bob"][0][0][2] == 1.0


@pytest.mark.parametrize("made", [None, "dlib", "opencv"])
def test_a_photos_cache_of_another_encoder_is_refused_not_mixed_with_mirror_runs(tmp_path: Path,
                                                                                  made: str | None) -> None:
    path = cache(tmp_path / "photos.npz", made)
    with pytest.raises(SystemExit, match=f"encoded by {made or 'dlib'}, the runs by opencv-mirror"):
        tool().cached_photo_faces(tmp_path / "no-photos", path, "opencv-mirror")


def test_runs_of_two_encoders_are_refused_and_no_run_means_a_new_stores_encoder() -> None:
    fit = tool()
    with pytest.raises(SystemExit, match="different encoders"):
        fit.one_encoder({"data-dev": "opencv-mirror", "data-strict": "dlib"})
    assert fit.one_encoder({"data-dev": "opencv-mirror", "data-strict": "opencv-mirror"}) == "opencv-mirror"
    assert fit.one_encoder({}) == fit.NEW_STORE_ENCODER == "opencv-mirror"


def test_a_runs_encoder_is_the_one_its_face_store_records(tmp_path: Path) -> None:
    from services.common.settings import Settings
    from services.identity.open_store import open_face_store

    store = open_face_store(Settings.from_env(data_dir=tmp_path, qdrant_url=""))
    try:
        store.record_encoder("opencv")
    finally:
        store.close()
    assert tool().run_encoder(tmp_path) == "opencv"
