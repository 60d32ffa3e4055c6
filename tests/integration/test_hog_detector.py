"""dlib's HOG face detector kept in a folder (services/identity/hog_detector.py): read back, it finds the very
boxes and scores of the detector dlib builds; a damaged file is rebuilt, and a folder that cannot be written
costs the build, nothing else."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from services.identity.hog_detector import detector_file, frontal_face_detector, model_cache_dir

dlib = pytest.importorskip("dlib")
PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"


def _grays() -> list[np.ndarray]:
    paths = sorted(PHOTOS.glob("*/*.jpg"))[:12]
    if not paths:
        pytest.skip("corpus photos not present")
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2GRAY) for p in paths]


def _found(detector: object, gray: np.ndarray) -> tuple[list[tuple[int, int, int, int]], list[float], list[int]]:
    rects, scores, kinds = detector.run(gray, 0, 0.0)  # type: ignore[attr-defined]
    return [(r.top(), r.right(), r.bottom(), r.left()) for r in rects], list(scores), list(kinds)


def test_the_detector_read_back_from_its_folder_finds_dlibs_very_boxes_and_scores(tmp_path: Path) -> None:
    built = frontal_face_detector(tmp_path)  # nothing there yet: built, and written
    assert detector_file(tmp_path).is_file()
    read = frontal_face_detector(tmp_path)
    own = dlib.get_frontal_face_detector()
    grays = _grays()
    assert sum(len(_found(own, g)[0]) for g in grays) > 0
    for gray in grays:
        assert _found(read, gray) == _found(own, gray) == _found(built, gray)
    assert [p.name for p in tmp_path.iterdir()] == [detector_file(tmp_path).name]  # no temporary file left


def test_a_damaged_file_is_built_again_and_replaced(tmp_path: Path) -> None:
    detector_file(tmp_path).write_bytes(b"not a detector")
    gray = _grays()[0]
    assert _found(frontal_face_detector(tmp_path), gray) == _found(dlib.get_frontal_face_detector(), gray)
    assert _found(dlib.fhog_object_detector(str(detector_file(tmp_path))), gray) == _found(
        dlib.get_frontal_face_detector(), gray)


def test_a_folder_that_cannot_be_made_still_gives_the_detector(tmp_path: Path) -> None:
    blocked = tmp_path / "a file"
    blocked.write_bytes(b"")
    gray = _grays()[0]
    assert _found(frontal_face_detector(blocked / "cache"), gray) == _found(dlib.get_frontal_face_detector(), gray)
    assert os.listdir(tmp_path) == ["a file"]


def _no_home() -> Path:
    raise RuntimeError("Could not determine home directory.")  # Path.home() with no HOME and no passwd entry


def test_the_cache_folder_is_xdg_cache_home_then_home_and_none_without_either(monkeypatch: pytest.MonkeyPatch,
                                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache_dir() == tmp_path / "influencers"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "influencers"
    monkeypatch.setattr(Path, "home", staticmethod(_no_home))
    assert model_cache_dir() is None


def test_face_workers_given_a_cache_folder_keep_the_detector_there_and_find_the_same_face(tmp_path: Path) -> None:
    from services.identity.workers import FaceWorkers

    photo = sorted(PHOTOS.glob("*/*.jpg"))[:1]
    if not photo:
        pytest.skip("corpus photos not present")
    image = photo[0].read_bytes()
    kept, plain = FaceWorkers(1, model_cache=str(tmp_path)), FaceWorkers(1)
    try:
        first, second = kept.encode_largest(image), plain.encode_largest(image)
    finally:
        kept.close()
        plain.close()
    assert detector_file(tmp_path).is_file()
    assert first.faces == second.faces == 1
    assert np.array_equal(first.encoding, second.encoding)
