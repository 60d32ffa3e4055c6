"""The face locator (services/identity/blazeface.py): anchors and box decoding on a hand-made model output,
the squares a frame is searched in, and the real model (from make setup) on real photos and frames, feeding
the detector HOG boxes that encode as HOG's own."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.common.settings import LOCATOR_MODEL, Settings
from services.identity.blazeface import BlazeFace, anchors, decode, squares
from services.identity.detection import ShotDetector
from services.identity.faces import FaceModel
from services.identity.tracking import iou

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"


def model_file() -> Path:
    path = LOCATOR_MODEL
    if not path.is_file():
        pytest.skip(f"{path} missing: make setup (deploy/models.sh) puts it there")
    return path


def test_the_anchors_are_the_short_range_models_896_centres_in_its_output_order() -> None:
    a = anchors()
    assert a.shape == (896, 2)
    assert tuple(a[0]) == tuple(a[1]) == (1 / 32, 1 / 32)  # two anchors in the first 8 px cell
    assert tuple(a[512]) == (1 / 16, 1 / 16)  # then 6 in each 16 px cell
    assert float(a.max()) < 1.0 and float(a.min()) > 0.0


def test_a_confident_output_decodes_to_its_box_in_frame_pixels_and_overlaps_are_suppressed() -> None:
    a = anchors()
    scores = np.full(896, -10.0, np.float32)
    regressors = np.zeros((896, 16), np.float32)
    k = 16 * 8 * 2 + 8 * 2  # a 16 x 16 cell in the middle of the first grid
    for i, dx in ((k, 0.0), (k + 1, 2.0)):  # the same face seen by two anchors
        scores[i] = 5.0
        regressors[i, :4] = (dx, 0.0, 32.0, 40.0)
    found = decode(scores, regressors, side=720, offset=(100, 0), anchor=a)
    assert len(found) == 1
    (top, right, bottom, left), score = found[0]
    cx, cy = a[k, 0] * 720, a[k, 1] * 720
    assert score > 0.99
    assert (left, right) == pytest.approx((cx - 90, cx + 90), abs=0.01)  # 32 of 128 px of a 720 px square
    assert (top, bottom) == pytest.approx((cy - 112.5 + 100, cy + 112.5 + 100), abs=0.01)
    assert decode(np.full(896, -10.0, np.float32), regressors, 720, (0, 0), a) == []


def test_a_frame_is_searched_as_overlapping_squares_of_its_short_side() -> None:
    assert squares(1280, 720) == [(0, 0, 720), (280, 0, 720), (560, 0, 720)]
    assert squares(720, 1280) == [(0, 0, 720), (0, 280, 720), (0, 560, 720)]
    assert squares(720, 720) == [(0, 0, 720)]
    assert iou((0, 10, 10, 0), (0, 10, 10, 0)) == 1.0 and iou((0, 10, 10, 0), (20, 30, 30, 20)) == 0.0


def test_the_model_finds_the_face_of_real_photos_where_hog_does() -> None:
    if not PHOTOS.is_dir():
        pytest.skip("corpus photos not present")
    locator, faces = BlazeFace(model_file()), FaceModel()
    for photo in sorted(PHOTOS.glob("*/*.jpg"))[::15][:8]:
        rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
        hog = [d.box for d in faces.detect(rgb)]
        found = [b for b, _ in locator.locate(rgb)]
        for box in hog:
            assert any(iou(box, b) > 0.3 for b in found), photo


def test_the_detector_with_the_locator_gives_hogs_boxes_and_the_same_encodings() -> None:
    if not PHOTOS.is_dir():
        pytest.skip("corpus photos not present")
    located, plain = FaceModel(model_file()), FaceModel()
    assert located.can_locate and not plain.can_locate and not FaceModel(Path("/nonexistent.tflite")).can_locate
    for photo in sorted(PHOTOS.glob("*/*.jpg"))[::20][:5]:
        frame = cv2.imread(str(photo))
        canvas = np.zeros((1280, 720, 3), np.uint8)  # a vertical frame with the photo in it
        h, w = min(frame.shape[0], 700), min(frame.shape[1], 700)
        canvas[300:300 + h, 10:10 + w] = frame[:h, :w]
        gray, rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY), cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        ours = ShotDetector(located).detect(gray, rgb, 0)
        theirs = ShotDetector(plain).detect(gray, rgb, 0)
        assert len(ours) == len(theirs), photo
        for a, b in zip(sorted(ours, key=lambda d: d.box), sorted(theirs, key=lambda d: d.box), strict=True):
            assert iou(a.box, b.box) > 0.5
            dist = np.linalg.norm(located.encode(rgb, [a.shape])[0] - plain.encode(rgb, [b.shape])[0])
            assert dist < 0.15, (photo, dist)



def test_the_locator_is_off_unless_asked_for_and_on_names_the_extracted_model() -> None:
    assert Settings().face_locator_model() is None
    assert Settings(face_locator="on").face_locator_model() == LOCATOR_MODEL
    assert Settings(face_locator="/models/x.tflite").face_locator_model() == Path("/models/x.tflite")
