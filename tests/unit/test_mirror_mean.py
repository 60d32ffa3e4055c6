"""The opencv-mirror encoder (services/identity/mirror_mean.py): a face's encoding is the mean of its chip's and
its mirror image's, one batch through the encoder; a chip and its mirror image then encode alike."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.common.settings import Settings
from services.identity.faces import FaceModel
from services.identity.mirror_mean import mirror_mean, mirrored

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"


def test_the_encoding_is_the_mean_of_the_chips_and_its_mirrors_in_one_call_of_the_encoder() -> None:
    calls: list[int] = []

    def first_row(chips: list[np.ndarray]) -> np.ndarray:  # an encoder that reads the chip's top row
        calls.append(len(chips))
        return np.stack([c[0, :128, 0].astype(np.float64) for c in chips])

    chip = np.zeros((150, 150, 3), np.uint8)
    chip[0, :, 0] = np.arange(150)
    got = mirror_mean(first_row)([chip, chip[:, ::-1]])
    assert calls == [4]  # both chips and both mirrors, one batch
    want = (np.arange(128) + np.arange(149, 21, -1)) / 2.0
    assert np.array_equal(got[0], want) and np.array_equal(got[1], (np.arange(149, 21, -1) + np.arange(128)) / 2.0)
    assert mirror_mean(first_row)([]).shape == (0, 128) and calls == [4]
    assert all(m.flags.c_contiguous for m in mirrored([chip]))


def test_on_real_faces_a_chip_and_its_mirror_encode_alike_and_the_plain_encoder_tells_them_apart() -> None:
    if not PHOTOS.is_dir():
        pytest.skip("corpus photos not present")
    plain, mirror = FaceModel(encoder="opencv"), FaceModel(encoder="opencv-mirror")
    chips = []
    for photo in sorted(PHOTOS.glob("*/*.jpg"))[::50]:
        rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
        chips += [plain.chip(rgb, plain.landmarks(rgb, d.box)) for d in plain.detect(rgb)]
        if len(chips) >= 6:
            break
    assert len(chips) >= 4
    flipped = mirrored(chips)
    ours, ours_flipped = mirror.encode_chips(chips), mirror.encode_chips(flipped)
    assert float(np.abs(ours - ours_flipped).max()) < 1e-5
    theirs, theirs_flipped = plain.encode_chips(chips), plain.encode_chips(flipped)
    assert np.allclose(ours, (theirs + theirs_flipped) / 2, atol=1e-6)
    assert float(np.linalg.norm(theirs - theirs_flipped, axis=1).min()) > 0.01  # plain: the mirror is elsewhere


def test_the_encoder_setting_takes_opencv_mirror() -> None:
    assert Settings.from_env({"INFLUENCERS_ENCODER": "opencv-mirror"}).encoder == "opencv-mirror"
