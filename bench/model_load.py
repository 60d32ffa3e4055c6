"""CPU a face worker spends loading its models, with dlib's HOG detector built (as before) or read from its cache
folder (services/identity/hog_detector.py), each in a fresh interpreter, alternated.

    .venv/bin/python bench/model_load.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_ONE = """
import resource, sys
from pathlib import Path
from services.identity.faces import FaceModel
model = FaceModel(None, "opencv-mirror", None, Path(sys.argv[1]) if sys.argv[1] else None)
model.load_encoder()
before = resource.getrusage(resource.RUSAGE_SELF)
model._models()  # the detector, the CNN, the landmarks: what a worker loads at its first frame
after = resource.getrusage(resource.RUSAGE_SELF)
print(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
"""


def load_cpu(cache: str) -> float:
    out = subprocess.run([sys.executable, "-c", _ONE, cache], cwd=REPO, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        load_cpu(cache)  # the first start builds the file
        for r in range(args.rounds):
            built, read = load_cpu(""), load_cpu(cache)
            print(f"round {r + 1}: models loaded in {built:.3f} CPU s with the detector built, {read:.3f} read")


if __name__ == "__main__":
    main()
