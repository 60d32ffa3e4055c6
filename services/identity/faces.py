"""The face model (dlib's HOG detector, 5-point landmarks and ResNet encoder: face_recognition's models),
loaded on first use under a lock. Boxes are (top, right, bottom, left) in pixels of the image given;
encodings are 128-d float64, compared by Euclidean distance (0.6 is face_recognition's usual cut)."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from services.common.settings import ENCODERS, OPENCV_ENCODERS
from services.identity.jpeg_scans import MAX_SCANS, count_scans

# Decoded size cap (pixels) of one frame or image: ingest sends at most 4096x4096 frames, and a 12000x12000
# PNG (a few hundred KB compressed) decodes to 432 MB of BGR and took a worker to 1.3 GB.
MAX_IMAGE_PIXELS = 4096 * 4096
_FORMATS = ("JPEG", "PNG")
CHIP_SIZE = 150  # px: the chip dlib's ResNet encoder takes
CHIP_PADDING = 0.25  # of the face, around the landmarks' box: what face_recognition encodes with


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # top, right, bottom, left
    score: float  # HOG detector margin: > 0 is a face, larger is surer


def _model_files() -> Any:
    with warnings.catch_warnings():  # face_recognition_models finds its files by pkg_resources
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition_models as files  # the files: seconds to load, so on first use
    return files


def encoder_model_file() -> Path:
    """dlib's ResNet face encoder's weights, as face_recognition_models installs them."""
    return Path(_model_files().face_recognition_model_location())


@dataclass(frozen=True)
class _Models:
    """The dlib models the pipeline uses, from face_recognition's model package. Not face_recognition.api:
    importing it also loads the 68-point landmark model (a 100 MB file, ~70 MB of memory in every worker),
    which nothing here uses."""

    face_detector: Any
    cnn_face_detector: Any
    pose_predictor_5_point: Any
    encode_chips: Callable[[list[np.ndarray]], np.ndarray]  # 150 px RGB chips -> (n, 128) float64

    @classmethod
    def load(cls, encode_chips: Callable[[list[np.ndarray]], np.ndarray], cache: Path | None = None) -> _Models:
        """`cache`: the folder that keeps the HOG detector once built (hog_detector.py); None: built each time."""
        import dlib

        from services.identity.hog_detector import frontal_face_detector

        files = _model_files()
        return cls(face_detector=frontal_face_detector(cache),
                   cnn_face_detector=dlib.cnn_face_detection_model_v1(files.cnn_face_detector_model_location()),
                   pose_predictor_5_point=dlib.shape_predictor(files.pose_predictor_five_point_model_location()),
                   encode_chips=encode_chips)


def load_encoder(encoder: str, model_file: Path | None = None) -> Callable[[list[np.ndarray]], np.ndarray]:
    """The face encoder `encoder` (one of ENCODERS) runs: 150 px RGB chips -> (n, 128) float64, with the weights of
    `model_file` (None: encoder_model_file()). ModelFileError (a ValueError) naming the file when "opencv" or
    "opencv-mirror" cannot read it."""
    model_file = model_file or encoder_model_file()
    if encoder in OPENCV_ENCODERS:
        from services.identity.mirror_mean import mirror_mean
        from services.identity.opencv_encoder import OpenCVEncoder

        encode = OpenCVEncoder(model_file).encode
        return mirror_mean(encode) if encoder == "opencv-mirror" else encode
    import dlib

    face_encoder = dlib.face_recognition_model_v1(str(model_file))

    def encode_chips(chips: list[np.ndarray]) -> np.ndarray:
        vecs = face_encoder.compute_face_descriptor(chips, 1)  # 1: no jitter
        return np.array([np.array(v) for v in vecs], dtype=np.float64).reshape(-1, 128)
    return encode_chips


class FaceModel:
    """Thin adapter over dlib; one instance per process (dlib objects are not shared across processes)."""

    def __init__(self, locator: Path | None = None, encoder: str = "dlib", encoder_model: Path | None = None,
                 model_cache: Path | None = None) -> None:
        """`locator`: BlazeFace's model file (blazeface.py), which tells the detector where to look; None
        (or a missing file): the detector searches whole frames with HOG. `encoder`: one of ENCODERS, who runs
        the face encoder (the same network and weights; encodings within ~1e-6 of each other), with the weights of
        `encoder_model` (None: face_recognition_models' file). `model_cache`: a folder that keeps dlib's HOG detector
        once built (hog_detector.py: 0.66 CPU s a start saved); None: built at each start."""
        if encoder not in ENCODERS:
            raise ValueError(f"encoder {encoder!r}: one of {', '.join(ENCODERS)}")
        self._encoder = encoder
        self._encoder_model = encoder_model
        self._model_cache = model_cache
        self._lock = threading.Lock()
        self._loaded: _Models | None = None
        self._encode: Callable[[list[np.ndarray]], np.ndarray] | None = None
        self._locator_path = locator if locator is not None and locator.is_file() else None
        self._locator: Any = None

    @property
    def encoder(self) -> str:
        """Who runs the face encoder: one of ENCODERS."""
        return self._encoder

    @property
    def can_locate(self) -> bool:
        return self._locator_path is not None

    def locate(self, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Where faces are in an RGB frame (boxes as above), by BlazeFace; needs `can_locate`."""
        if self._locator is None:
            from services.identity.blazeface import BlazeFace

            assert self._locator_path is not None
            self._locator = BlazeFace(self._locator_path)
        return [tuple(int(round(v)) for v in box) for box, _ in self._locator.locate(rgb)]  # type: ignore[misc]

    def load_encoder(self) -> None:
        """Loads the face encoder now, not at the first face: ModelFileError when "opencv" cannot read its model
        file (the worker pool's start raises it; the file is read once, by the encoder that keeps it)."""
        with self._lock:
            if self._encode is None:
                self._encode = load_encoder(self._encoder, self._encoder_model)

    def _models(self) -> _Models:
        if self._loaded is None:
            self.load_encoder()
            with self._lock:
                if self._loaded is None:
                    assert self._encode is not None
                    self._loaded = _Models.load(self._encode, self._model_cache)
        return self._loaded

    def detect(self, image: np.ndarray, upsample: int = 0) -> list[Detection]:
        """Faces in a gray or RGB uint8 image. `upsample` doubles the image that many times first, finding
        faces down to ~40 px (1) instead of ~80 px (0), at about 4x the cost."""
        rects, scores, _ = self._models().face_detector.run(image, upsample, 0.0)
        out = []
        h, w = image.shape[:2]
        for r, s in zip(rects, scores, strict=True):
            box = (max(0, r.top()), min(w, r.right()), min(h, r.bottom()), max(0, r.left()))
            if box[2] > box[0] and box[1] > box[3]:
                out.append(Detection(box, float(s)))
        return out

    def detect_cnn(self, rgb: np.ndarray) -> list[Detection]:
        """dlib's CNN (MMOD) detector: finds turned and low-contrast faces HOG misses, down to ~40 px, at
        ~10x HOG's cost; used as a fallback on reduced frames."""
        out = []
        h, w = rgb.shape[:2]
        for d in self._models().cnn_face_detector(rgb, 0):
            r = d.rect
            box = (max(0, r.top()), min(w, r.right()), min(h, r.bottom()), max(0, r.left()))
            if box[2] > box[0] and box[1] > box[3]:
                out.append(Detection(box, float(d.confidence)))
        return out

    def landmarks(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> Any:
        """dlib full_object_detection with 5 points: eye corners (2 per eye) and the base of the nose."""
        import dlib

        top, right, bottom, left = box
        return self._models().pose_predictor_5_point(rgb, dlib.rectangle(left, top, right, bottom))

    def chip(self, rgb: np.ndarray, shape: Any) -> np.ndarray:
        """The 150 x 150 RGB face chip dlib's encoder sees for the face with landmarks `shape`: aligned by
        them and padded by a quarter, exactly as the encoder cuts it from the whole frame (so encoding the
        chip gives the very same numbers, and the frame need not be kept until encoding)."""
        import dlib

        return dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def encode_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """128-d encodings of face chips made by `chip`, shape (n, 128)."""
        if not chips:
            return np.zeros((0, 128))
        return self._models().encode_chips(chips)

    def encode(self, rgb: np.ndarray, shapes: list[Any]) -> np.ndarray:
        """128-d encodings of the faces whose landmarks are given, shape (n, 128)."""
        return self.encode_chips([self.chip(rgb, s) for s in shapes])


def image_size(image: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """(width, height) in pixels of a JPEG or PNG, read from its header alone, without decoding.

    Raises ValueError when `image` is not a JPEG or PNG, or when its decoded size would exceed `max_pixels`
    (a decompression bomb): checked before anything decodes it."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (or raises) about its own, larger bomb limit on open; ours is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image), formats=_FORMATS) as img:
                width, height = img.size
    except Image.DecompressionBombError as exc:
        raise ValueError(f"image too large to decode: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError):  # Pillow's text shows its internals (a BytesIO repr)
        raise ValueError("image is not a JPEG or PNG") from None
    if width * height > max_pixels:
        raise ValueError(f"image of {width}x{height} px ({width * height} px) is more than the limit of "
                         f"{max_pixels} px")
    if image.startswith(b"\xff\xd8") and count_scans(image) > MAX_SCANS:
        raise ValueError(f"a JPEG of more than {MAX_SCANS} scans (encoders write 1 to about a dozen): each is a "
                         "decoding of the whole image, refused")
    return width, height


def landmark_points(shape: Any) -> np.ndarray:
    """(5, 2) array of x, y landmark coordinates."""
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], dtype=np.float64)
