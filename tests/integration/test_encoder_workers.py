"""The face workers with INFLUENCERS_ENCODER=opencv: each spawned worker runs dlib's encoder in OpenCV and gives
the encodings dlib's workers give (services/identity/opencv_encoder.py)."""

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from services.identity.dlib_weights import ModelFileError
from services.identity.faces import encoder_model_file
from services.identity.workers import FaceWorkers

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"


def test_a_worker_told_to_encode_with_opencv_gives_the_encodings_of_a_dlib_worker():
    if not PHOTOS.is_dir():
        pytest.skip("corpus photos not present")
    photos = [p.read_bytes() for p in sorted(PHOTOS.glob("*/*.jpg"))[::40][:4]]
    dlib_pool, opencv_pool = FaceWorkers(1), FaceWorkers(1, encoder="opencv")
    try:
        theirs = [dlib_pool.encode_largest(p) for p in photos]
        ours = [opencv_pool.encode_largest(p) for p in photos]
    finally:
        dlib_pool.close()
        opencv_pool.close()
    assert [t.faces for t in theirs] == [o.faces for o in ours]
    pairs = [(t.encoding, o.encoding) for t, o in zip(theirs, ours, strict=True) if t.encoding is not None]
    assert len(pairs) >= 3
    assert max(float(np.abs(t - o).max()) for t, o in pairs) < 1e-5


def test_an_opencv_pool_refuses_to_start_on_a_damaged_model_file_naming_it_and_leaves_no_worker(tmp_path):
    """Each worker loads the encoder as it starts, reading the model file once: the only check of it (was: read
    once more by the process to check it, then by each worker at its first face)."""
    cut = tmp_path / "cut.dat"
    cut.write_bytes(encoder_model_file().read_bytes()[:100_000])
    before = set(multiprocessing.active_children())
    with pytest.raises(ModelFileError, match=r"cut\.dat: file ends early: \d+ bytes wanted at byte \d+"):
        FaceWorkers(1, encoder="opencv", encoder_model=str(cut))
    assert not set(multiprocessing.active_children()) - before
    FaceWorkers(1, encoder="dlib", encoder_model=str(cut)).close()  # dlib's loads at the first face, as before


def test_an_opencv_mirror_pool_also_loads_its_encoder_at_start_and_refuses_a_damaged_model_file(tmp_path):
    """opencv-mirror is OpenCV's encoder run on each chip and its mirror image: its workers load it as they start,
    as opencv's do (was: only "opencv" loaded at start, so a damaged file would fail at the first face)."""
    cut = tmp_path / "cut.dat"
    cut.write_bytes(encoder_model_file().read_bytes()[:100_000])
    before = set(multiprocessing.active_children())
    with pytest.raises(ModelFileError, match=r"cut\.dat: file ends early"):
        FaceWorkers(1, encoder="opencv-mirror", encoder_model=str(cut))
    assert not set(multiprocessing.active_children()) - before


def _blas_in_worker() -> str:
    """In a face worker, once its dlib models are loaded: the kernels its OpenBLAS runs."""
    from services.identity import workers
    from services.identity.blas_cores import openblas_corename

    assert workers._model is not None
    workers._model.detect_cnn(np.zeros((64, 64, 3), np.uint8))  # loads dlib, and OpenBLAS with it
    return openblas_corename()


def test_an_opencv_worker_runs_the_cnn_on_kernels_for_this_cpu_and_a_dlib_worker_on_openblas_s_choice():
    """OpenBLAS 0.3.21 knows no model of this machine's CPU and falls back to its SSE3 kernels, on which dlib's CNN
    takes 1.7x the CPU: an opencv worker is given the kernels OpenBLAS gives a CPU it knows (blas_cores.py); a dlib
    worker keeps OpenBLAS's choice, which its encodings (through OpenBLAS too) were made with."""
    from services.identity.blas_cores import better_kernels, cpu_flags, openblas_corename

    chosen = openblas_corename()
    if not chosen:
        pytest.skip("no libopenblas.so.0 here")
    wanted = better_kernels(chosen, cpu_flags())
    opencv_pool, dlib_pool = FaceWorkers(1, encoder="opencv"), FaceWorkers(1)
    try:
        assert opencv_pool.blas_kernels == wanted
        assert opencv_pool._call(_blas_in_worker).lower() == (wanted or chosen).lower()
        assert dlib_pool.blas_kernels == ""
        assert dlib_pool._call(_blas_in_worker).lower() == chosen.lower()
    finally:
        opencv_pool.close()
        dlib_pool.close()
