"""dlib's CNN face detector (the fallback of docs/identity.md, step 2) on OpenBLAS's own choice of kernels and on the
kernels identity's workers ask for (services/identity/blas_cores.py): CPU per frame, one thread, each in a process of
its own (OpenBLAS reads OPENBLAS_CORETYPE as it loads), in turns; and whether the boxes and confidences agree.

    .venv/bin/python bench/cnn_kernels.py [--videos 20] [--rounds 2]

The frames: every third sampled frame of dev's first videos, as ingest samples and encodes them, shrunk to the
CNN's 200 px short side as the detector shrinks them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus" / "dev"


def frames(videos: int, scratch: Path) -> Path:
    """The frames as one .npz of 200 px RGB images, written under `scratch`."""
    import cv2
    import numpy as np

    from influencers.v1 import identity_pb2
    from services.identity.detection import CNN_SHORT_SIDE
    from services.ingest.decoding import DecodeOrder, decode

    images = []
    for path in sorted((CORPUS / "videos").glob("*.mp4"))[:videos]:
        decoded = decode(DecodeOrder(path.stem, path, 1.0, 600.0, scratch, 32 << 20, 0, False))
        for record in list(decoded.frames)[::3]:
            jpeg = identity_pb2.AnalyzeVideoRequest.FromString(record).image
            rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            scale = CNN_SHORT_SIDE / min(rgb.shape[:2])
            images.append(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    out = scratch / "frames.npz"
    np.savez(out, *images)
    return out


def detect(npz: str) -> None:
    """In the child: the CNN over every frame of `npz`; prints its kernels, CPU s and detections as JSON."""
    import time

    import numpy as np

    from services.identity.blas_cores import openblas_corename
    from services.identity.faces import FaceModel

    images = list(np.load(npz).values())
    model = FaceModel()
    model.detect_cnn(images[0])  # loads the model (and OpenBLAS)
    t = time.process_time()
    found = [[[list(d.box), d.score] for d in model.detect_cnn(image)] for image in images]
    print(json.dumps({"kernels": openblas_corename(), "cpu_s": time.process_time() - t, "frames": len(images),
                      "found": found}))


def run(npz: Path, kernels: str) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("OPENBLAS_CORETYPE", None)
    if kernels:
        env["OPENBLAS_CORETYPE"] = kernels
    done = subprocess.run([sys.executable, __file__, "--child", str(npz)], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        detect(args.child)
        return 0
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    from services.identity.blas_cores import better_kernels, cpu_flags, openblas_corename

    own = openblas_corename()
    workers = better_kernels(own, cpu_flags()) or own
    print(f"OpenBLAS's own kernels here: {own}; the face workers': {workers}")
    with tempfile.TemporaryDirectory(prefix="cnn-kernels-") as tmp:
        npz = frames(args.videos, Path(tmp))
        results: dict[str, list[dict]] = {own: [], workers: []}
        for _ in range(args.rounds):
            for kernels in dict.fromkeys((own, workers)):
                results[kernels].append(run(npz, kernels))
    for kernels, runs in results.items():
        ms = ", ".join(f"{1000 * r['cpu_s'] / r['frames']:.1f}" for r in runs)
        print(f"{kernels} (ran {runs[0]['kernels']}): {ms} CPU ms a frame ({runs[0]['frames']} frames)")
    a, b = results[own][0]["found"], results[workers][0]["found"]
    same = all([d[0] for d in x] == [d[0] for d in y] for x, y in zip(a, b, strict=True))
    pairs = [(d, e) for x, y in zip(a, b, strict=True) if len(x) == len(y) for d, e in zip(x, y, strict=True)]
    diff = max((abs(d[1] - e[1]) for d, e in pairs), default=0.0)
    print(f"faces found: {sum(map(len, a))} and {sum(map(len, b))}; the same boxes: {same}; "
          f"largest difference of a confidence: {diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
