"""A faster face detector, weighed before it is wired in: MediaPipe's BlazeFace (short range, 128 x 128 input)
run by OpenCV's DNN, against the HOG search the pipeline uses (dlib, frames at 600 px short side: the search
that costs most, `identity.detect.fine` in bench/throughput.py).

    .venv/bin/python bench/detector_eval.py [--model PATH] [--every-video 7] [--every-frame 50]

The model comes from a registry package whose licence allows commercial use: the `mediapipe==0.10.14` wheel
(Apache-2.0) holds mediapipe/modules/face_detection/face_detection_short_range.tflite. Without --model it is
the file make setup extracted (settings.face_locator), or the wheel fetched with `pip download --no-deps` into
~/.cache/influencers-bench/ (never into the repository).

On frames of the dev corpus (every Nth frame of every Mth video) it prints, for HOG at 600 px, BlazeFace on
the letterboxed frame, BlazeFace on square tiles of the frame, and BlazeFace tiles followed by HOG around each
box (the design that keeps HOG's boxes, hence today's encodings): the HOG faces each finds (IoU > 0.3), the
boxes HOG has not, the time per frame; and for faces found by both, the Euclidean distance between the 128-d
encodings through HOG's box and through the other path's box (dlib's 5-point aligner and ResNet encoder).
Writes bench/out/detector_eval.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.common.settings import LOCATOR_MODEL  # noqa: E402
from services.identity.blazeface import BlazeFace  # noqa: E402
from services.identity.faces import FaceModel  # noqa: E402
from services.identity.tracking import iou  # noqa: E402

WHEEL = "mediapipe==0.10.14"
MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
CACHE = Path.home() / ".cache" / "influencers-bench"
HOG_SHORT_SIDE = 600
ROI_FACE = 100  # px: HOG around a BlazeFace box searches it scaled to this (as the pipeline's tracked search)
ROI_MARGIN = 0.6
Box = tuple[float, float, float, float]  # top, right, bottom, left


def fetch_model() -> Path:
    """The short-range model out of the mediapipe wheel, fetched once into CACHE."""
    target = CACHE / Path(MEMBER).name
    if target.is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.11", "-d", str(CACHE), WHEEL], check=True)
    wheel = next(CACHE.glob("mediapipe-0.10.14-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        target.write_bytes(z.read(MEMBER))
    return target


def letterboxed(blaze: BlazeFace, rgb: np.ndarray) -> list[Box]:
    """The whole frame padded to a square and searched once (what the model's own demo does)."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    pad = np.zeros((side, side, 3), np.uint8)
    oy, ox = (side - h) // 2, (side - w) // 2
    pad[oy:oy + h, ox:ox + w] = rgb
    return [(t - oy, r - ox, b - oy, lft - ox) for (t, r, b, lft), _ in blaze.locate(pad)]


def hog_at(model: FaceModel, gray: np.ndarray, scale: float, region: Box | None = None) -> list[Box]:
    h, w = gray.shape
    top, right, bottom, left = (int(v) for v in (region or (0, w, h, 0)))
    top, left, bottom, right = max(0, top), max(0, left), min(h, bottom), min(w, right)
    part = gray[top:bottom, left:right]
    if part.size == 0:
        return []
    small = cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return [(d.box[0] / scale + top, d.box[1] / scale + left, d.box[2] / scale + top, d.box[3] / scale + left)
            for d in model.detect(small)]


def blaze_then_hog(model: FaceModel, blaze: BlazeFace, rgb: np.ndarray, gray: np.ndarray) -> list[Box]:
    out: list[Box] = []
    for (t, r, b, lft), _ in blaze.locate(rgb):
        size = max(b - t, r - lft)
        pad = size * ROI_MARGIN
        for box in hog_at(model, gray, min(2.0, ROI_FACE / max(1.0, size)), (t - pad, r + pad, b + pad, lft - pad)):
            if all(iou(box, o) < 0.5 for o in out):
                out.append(box)
    return out


def frames(corpus: Path, every_video: int, every_frame: int) -> list[np.ndarray]:
    out = []
    for path in sorted((corpus / "videos").glob("*.mp4"))[::every_video]:
        with av.open(str(path)) as c:
            out += [f.to_ndarray(format="rgb24") for k, f in enumerate(c.decode(video=0)) if k % every_frame == 0]
    return out


def encode(model: FaceModel, rgb: np.ndarray, box: Box) -> np.ndarray:
    return model.encode(rgb, [model.landmarks(rgb, tuple(int(round(v)) for v in box))])[0]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, help="face_detection_short_range.tflite (default: from the wheel)")
    p.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus" / "dev")
    p.add_argument("--every-video", type=int, default=7)
    p.add_argument("--every-frame", type=int, default=50)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "detector_eval.json")
    args = p.parse_args(argv)
    default = LOCATOR_MODEL
    model, blaze = FaceModel(), BlazeFace(args.model or (default if default.is_file() else fetch_model()))
    images = frames(args.corpus, args.every_video, args.every_frame)
    paths = {"hog600": None, "blaze letterboxed": lambda rgb, gray: letterboxed(blaze, rgb),
             "blaze tiles": lambda rgb, gray: [b for b, _ in blaze.locate(rgb)],
             "blaze tiles + HOG around": lambda rgb, gray: blaze_then_hog(model, blaze, rgb, gray)}
    figures: dict[str, dict[str, float]] = {name: {"found": 0, "missed": 0, "extra": 0, "ms": 0.0} for name in paths}
    distances: dict[str, list[float]] = {name: [] for name in paths if name != "hog600"}
    for rgb in images:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        t0 = time.perf_counter()
        truth = hog_at(model, gray, min(1.0, HOG_SHORT_SIDE / min(gray.shape)))
        figures["hog600"]["ms"] += time.perf_counter() - t0
        figures["hog600"]["found"] += len(truth)
        for name, find in paths.items():
            if find is None:
                continue
            t0 = time.perf_counter()
            boxes = find(rgb, gray)
            figures[name]["ms"] += time.perf_counter() - t0
            for h in truth:
                best = max(boxes, key=lambda b, h=h: iou(h, b), default=None)
                if best is not None and iou(h, best) > 0.3:
                    figures[name]["found"] += 1
                    distances[name].append(float(np.linalg.norm(encode(model, rgb, h) - encode(model, rgb, best))))
                else:
                    figures[name]["missed"] += 1
            figures[name]["extra"] += sum(all(iou(b, h) <= 0.3 for h in truth) for b in boxes)
    print(f"{len(images)} frames of {args.corpus} (every {args.every_frame}th frame of every {args.every_video}th "
          f"video); HOG at {HOG_SHORT_SIDE} px is the reference")
    print(f"  {'path':<28}{'HOG faces found':>16}{'missed':>8}{'not HOG':>9}{'ms/frame':>10}"
          f"{'enc. dist mean / p95 / max':>30}")
    for name, f in figures.items():
        f["ms"] = f["ms"] / max(1, len(images)) * 1000
        d = np.array(distances.get(name) or [0.0])
        dist = "" if name == "hog600" else f"{d.mean():.3f} / {np.percentile(d, 95):.3f} / {d.max():.3f}"
        f.update(dist_mean=float(d.mean()), dist_p95=float(np.percentile(d, 95)), dist_max=float(d.max()))
        print(f"  {name:<28}{int(f['found']):>16}{int(f['missed']):>8}{int(f['extra']):>9}{f['ms']:>10.1f}{dist:>30}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"frames": len(images), "paths": figures}, indent=2))


if __name__ == "__main__":
    main()
