"""dlib's HOG search and encoder on frames of the dev corpus, for comparing two builds of dlib (deploy/dlib.sh:
AVX2 + FMA or not): CPU time, and every box, score and encoding saved for the comparison.

    .venv/bin/python bench/dlib_build.py --save A.npz                        # the installed dlib
    PYTHONPATH=DIR .venv/bin/python bench/dlib_build.py --save B.npz         # another build (an unzipped wheel)
    .venv/bin/python bench/dlib_build.py --compare A.npz B.npz

One frame every 2 s of the first 40 videos, HOG at 600 px on the short side (the pipeline's fine search), then
dlib's encoder on up to 300 faces, each on one BLAS thread as identity's workers run it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev" / "videos"


def frames(videos: list[Path], every_s: float) -> list[np.ndarray]:
    out = []
    for path in videos:
        cap = cv2.VideoCapture(str(path))
        step = max(1, round((cap.get(cv2.CAP_PROP_FPS) or 25) * every_s))
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                out.append(frame)
            index += 1
        cap.release()
    return out


def measure(save: Path, videos: int) -> None:
    import dlib
    import face_recognition_models as models

    shots = frames(sorted(CORPUS.glob("*.mp4"))[:videos], 2.0)
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    scale = [600 / min(f.shape[:2]) for f in shots]
    grays = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
             for f, s in zip(shots, scale, strict=True)]
    t = time.process_time()
    found = [detector.run(g, 0, 0.0)[:2] for g in grays]
    hog_s = time.process_time() - t
    boxes, faces = [], []
    for frame, s, (rects, scores) in zip(shots, scale, found, strict=True):
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        for r, score in zip(rects, scores, strict=True):
            boxes.append((r.top(), r.right(), r.bottom(), r.left(), score))
            full = dlib.rectangle(int(r.left() / s), int(r.top() / s), int(r.right() / s), int(r.bottom() / s))
            faces.append((rgb, landmarks(rgb, full)))
    faces = faces[:300]
    t = time.process_time()
    encodings = [np.array(encoder.compute_face_descriptor(rgb, shape, 1)) for rgb, shape in faces]
    encode_s = time.process_time() - t
    print(f"dlib {dlib.__version__} from {Path(dlib.__file__).parent}")
    print(f"HOG at 600 px: {hog_s:.2f} CPU s for {len(grays)} frames ({1000 * hog_s / len(grays):.1f} ms a frame)")
    print(f"encoder: {encode_s:.2f} CPU s for {len(encodings)} faces "
          f"({1000 * encode_s / max(1, len(encodings)):.1f} ms a face)")
    np.savez(save, per_frame=np.array([len(r) for r, _ in found]), boxes=np.array(boxes),
             encodings=np.array(encodings))


def compare(a: Path, b: Path) -> None:
    x, y = np.load(a), np.load(b)
    same_counts = bool((x["per_frame"] == y["per_frame"]).all())
    print(f"faces a frame the same on all {len(x['per_frame'])} frames: {same_counts}")
    if same_counts:
        d = np.abs(x["boxes"] - y["boxes"])
        print(f"box corners: largest difference {d[:, :4].max():.0f} px; scores: {d[:, 4].max():.4f}")
        e = np.linalg.norm(x["encodings"] - y["encodings"], axis=1)
        print(f"encodings: largest distance {e.max():.2e}, mean {e.mean():.2e} (the match threshold is ~0.6)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--save", type=Path, help="measure the dlib imported, saving its outputs here")
    p.add_argument("--videos", type=int, default=40)
    p.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    args = p.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.save:
        measure(args.save, args.videos)
    else:
        p.error("give --save FILE or --compare A B")


if __name__ == "__main__":
    main()
