"""The face encoder run by dlib and by OpenCV (INFLUENCERS_ENCODER, services/identity/opencv_encoder.py): CPU per face
of each on the same real chips, one thread each as identity's workers run them, and how far apart the encodings are.

    .venv/bin/python bench/encoder.py --videos 30                   # chips of dev's first 30 videos, both ways
    .venv/bin/python bench/encoder.py --stores DATA_A DATA_B         # the stored faces of two runs' data dirs

The chips: one frame every 2 s of each video, every face HOG finds at full size, cut as the pipeline cuts them.
--stores pairs the faces of two data dirs by (video, time, box) and gives the largest difference of a component.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from services.identity.faces import FaceModel  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


def chips_of(videos: list[Path], every_s: float = 2.0) -> list[np.ndarray]:
    model, out = FaceModel(), []
    for path in videos:
        cap = cv2.VideoCapture(str(path))
        step, index = max(1, round((cap.get(cv2.CAP_PROP_FPS) or 25) * every_s)), 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                out += [model.chip(rgb, model.landmarks(rgb, d.box)) for d in model.detect(rgb)]
            index += 1
        cap.release()
    return out


def compare_encoders(videos: int, rounds: int) -> None:
    cv2.setNumThreads(1)
    paths = sorted((CORPUS / "videos").glob("*.mp4"))[:videos]
    chips = chips_of(paths)
    models = {"dlib": FaceModel(encoder="dlib"), "opencv": FaceModel(encoder="opencv")}
    encodings = {name: m.encode_chips(chips[:1]) for name, m in models.items()}  # load each model first
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):  # alternated, so that a busier minute of the machine weighs on both
        for name, model in models.items():
            t = time.process_time()
            encodings[name] = np.concatenate([model.encode_chips(chips[i:i + 16]) for i in range(0, len(chips), 16)])
            cpu[name].append(time.process_time() - t)
    diff = np.abs(encodings["dlib"] - encodings["opencv"])
    print(f"{len(chips)} chips of {len(paths)} dev videos")
    for name, times in cpu.items():
        print(f"{name}: " + ", ".join(f"{1000 * t / len(chips):.1f}" for t in times) + " CPU ms a face")
    print(f"largest difference of a component {diff.max():.2e} (mean {diff.mean():.2e}); largest distance "
          f"{np.linalg.norm(encodings['dlib'] - encodings['opencv'], axis=1).max():.2e}")


Key = tuple[str, float, tuple[int, ...]]  # video, time (s), box: one face


def stored_faces(data_dir: Path) -> tuple[dict[Key, np.ndarray], dict[Key, str], dict[Key, str]]:
    """Each stored face's vector, influencer and encoding hash, by (video, time, box)."""
    from services.common.settings import Settings
    from services.identity.open_store import open_face_store

    store = open_face_store(Settings(data_dir=data_dir))
    try:
        points = [p for p in store.scroll(with_vectors=True) if not p.record.reference]
        keys = [(p.record.video_id, round(p.record.timestamp_s, 3), tuple(p.record.box)) for p in points]
        return ({k: np.array(p.vector) for k, p in zip(keys, points, strict=True)},
                {k: p.record.influencer_id for k, p in zip(keys, points, strict=True)},
                {k: p.record.vhash for k, p in zip(keys, points, strict=True)})
    finally:
        store.close()


def compare_stores(a: Path, b: Path) -> None:
    (x, who_x, hash_x), (y, who_y, hash_y) = stored_faces(a), stored_faces(b)
    both = sorted(set(x) & set(y))
    print(f"faces: {len(x)} in {a}, {len(y)} in {b}, {len(both)} in both")
    if both:
        diff = np.array([np.abs(x[k] - y[k]).max() for k in both])
        print(f"largest difference of a component {diff.max():.2e} (mean of each face's largest {diff.mean():.2e})")
        # The repost rule's hash rounds to 1e-5: a component near a rounding edge gives another hash.
        other = sum(hash_x[k] != hash_y[k] for k in both)
        print(f"faces whose stored encoding hash (vhash: facestore.vector_hash) differs: {other} of {len(both)}")

    def partition(who: dict[Key, str]) -> set[frozenset[Key]]:
        groups: dict[str, set[Key]] = {}
        for k, influencer in who.items():
            groups.setdefault(influencer, set()).add(k)
        return {frozenset(g) for g in groups.values()}

    px, py = partition(who_x), partition(who_y)
    print(f"influencers: {len(px)} and {len(py)}; the same faces in each: {px == py}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=30)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--stores", type=Path, nargs=2, metavar=("DATA_A", "DATA_B"))
    args = p.parse_args()
    if args.stores:
        compare_stores(*args.stores)
    else:
        compare_encoders(args.videos, args.rounds)


if __name__ == "__main__":
    main()
