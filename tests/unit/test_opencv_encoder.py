"""dlib's face encoder run by OpenCV (services/identity/opencv_encoder.py): the installed model file read layer by
layer, the same encodings as dlib's on real face chips, and a missing or damaged model file refused by name."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.common.settings import Settings, SettingsError
from services.identity.dlib_weights import AddPrev, Affine, Conv, Dense, ModelFileError, Pool, Relu, read_net
from services.identity.faces import FaceModel, encoder_model_file
from services.identity.onnx_bytes import Graph
from services.identity.opencv_encoder import OpenCVEncoder

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"
BOUND = 1e-5  # largest difference of one component allowed: identities must not move (docs/performance.md)


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return encoder_model_file().read_bytes()


def real_chips(limit: int = 24) -> list[np.ndarray]:
    """The encoder's chips of the faces HOG finds in the corpus photos, cut as the pipeline cuts them."""
    if not PHOTOS.is_dir():
        pytest.skip("corpus photos not present")
    model, chips = FaceModel(), []
    for photo in sorted(PHOTOS.glob("*/*.jpg"))[::7]:
        rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
        chips += [model.chip(rgb, model.landmarks(rgb, d.box)) for d in model.detect(rgb)]
        if len(chips) >= limit:
            return chips[:limit]
    return chips


def test_the_installed_model_reads_as_dlibs_resnet_of_29_convolutions_14_blocks_and_a_128_d_product(
        model_bytes: bytes) -> None:
    net = read_net(model_bytes)
    kinds = [type(layer) for layer in net.layers]
    assert net.input.size == (150, 150)
    assert net.input.means == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert kinds.count(Conv) == kinds.count(Affine) == kinds.count(Relu) == 29
    assert kinds.count(AddPrev) == 14 and kinds.count(Pool) == 6 and kinds[-1] is Dense
    first, last = net.layers[0], net.layers[-1]
    assert isinstance(first, Conv) and first.filters.shape == (32, 3, 7, 7) and first.stride == (2, 2)
    assert isinstance(last, Dense) and last.weights.shape == (256, 128) and last.bias is None


def test_opencv_gives_dlibs_encodings_on_real_face_chips_within_1e_5() -> None:
    chips = real_chips()
    assert len(chips) >= 10
    dlib_run, opencv_run = FaceModel(encoder="dlib"), FaceModel(encoder="opencv")
    theirs, ours = dlib_run.encode_chips(chips), opencv_run.encode_chips(chips)
    assert ours.shape == theirs.shape == (len(chips), 128) and ours.dtype == np.float64
    assert float(np.abs(ours - theirs).max()) < BOUND
    assert float(np.abs(theirs).max()) > 0.1  # real encodings, not zeros on both sides
    one_by_one = np.concatenate([opencv_run.encode_chips([c]) for c in chips[:3]])
    assert float(np.abs(one_by_one - ours[:3]).max()) < BOUND  # a batch's size does not change an encoding
    assert opencv_run.encode_chips([]).shape == (0, 128)


def test_a_missing_model_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-model.dat"
    with pytest.raises(ModelFileError, match=r"no-model\.dat: cannot read dlib's face encoder model"):
        OpenCVEncoder(missing)


def test_a_damaged_model_file_is_refused_naming_the_file_and_the_byte(tmp_path: Path, model_bytes: bytes) -> None:
    cut = tmp_path / "cut.dat"
    cut.write_bytes(model_bytes[: len(model_bytes) // 2])
    with pytest.raises(ModelFileError, match=r"cut\.dat: file ends early: \d+ bytes wanted at byte \d+"):
        OpenCVEncoder(cut)
    renamed = tmp_path / "renamed.dat"
    renamed.write_bytes(model_bytes.replace(b"max_pool_2", b"max_poox_2", 1))
    with pytest.raises(ModelFileError, match=r"renamed\.dat: layer kind 'max_poox_2' at byte \d+ is not one of"):
        OpenCVEncoder(renamed)
    noise = tmp_path / "noise.dat"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelFileError, match=r"noise\.dat: .* at byte \d+"):
        OpenCVEncoder(noise)
    longer = tmp_path / "longer.dat"
    longer.write_bytes(model_bytes + b"\x00")
    with pytest.raises(ModelFileError, match=r"longer\.dat: 1 bytes after the last layer"):
        OpenCVEncoder(longer)


def test_the_encoder_setting_is_auto_unless_dlib_or_opencv_is_asked_for() -> None:
    assert Settings().encoder == "auto"
    assert Settings.from_env({"INFLUENCERS_ENCODER": "opencv"}).encoder == "opencv"
    assert Settings.from_env({"INFLUENCERS_ENCODER": "dlib"}).encoder == "dlib"
    with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER='onnx': one of auto, dlib, opencv, opencv-mirror"):
        Settings.from_env({"INFLUENCERS_ENCODER": "onnx"})
    with pytest.raises(ValueError, match=r"encoder 'onnx': one of dlib, opencv, opencv-mirror"):
        FaceModel(encoder="onnx")


def test_an_onnx_graph_written_without_the_onnx_package_runs_in_opencv_as_numpy_computes_it() -> None:
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(4, 3, 3, 3)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    g = Graph("x", ("n", 3, 5, 5))
    y = g.node("Conv", ["x", g.constant("w", w), g.constant("b", b)], kernel_shape=[3, 3], strides=[2, 2],
               pads=[0, 0, 0, 0])
    y = g.node("Pad", [g.node("Relu", [y]), g.constant("p", np.array([0, 0, 0, 0, 0, 0, 1, 1]))])
    net = cv2.dnn.readNetFromONNX(np.frombuffer(g.to_bytes(y, ("n", 4, 3, 3)), np.uint8), cv2.dnn.ENGINE_CLASSIC)
    x = rng.normal(size=(2, 3, 5, 5)).astype(np.float32)
    net.setInput(x)
    got = net.forward()
    want = np.zeros((2, 4, 3, 3), np.float32)
    for i in range(2):
        for j in range(2):
            patch = x[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            want[:, :, i, j] = np.maximum(np.einsum("nchw,ochw->no", patch, w) + b, 0)
    assert got.shape == (2, 4, 3, 3)
    assert np.allclose(got, want, atol=1e-5)
    assert not got[:, :, 2, :].any() and not got[:, :, :, 2].any()  # the padding: zeros below and right
