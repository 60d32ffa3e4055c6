"""One face worker's CPU by stage on dev videos' sampled frames, in this process (`analyze_frames`, the default
encoder), and every person's encodings, boxes, qualities and best crop saved, for a comparison bit for bit.

    .venv/bin/python bench/worker_stages.py --videos 20 --rounds 2 --save /tmp/a.npz
    .venv/bin/python bench/worker_stages.py --compare /tmp/a.npz /tmp/b.npz
"""

from __future__ import annotations

import argparse
import resource
from pathlib import Path

import cv2
import numpy as np

from services.identity.analyzer import FrameIn, analyze_frames
from services.identity.faces import FaceModel
from services.ingest.decoding import DecodeOrder, decode
from services.ingest.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "corpus" / "dev"


def frames_of(videos: int) -> list[tuple[str, list[bytes]]]:
    """Each of the first `videos` dev videos' sampled frames, as the identity service spools them."""
    from influencers.v1 import identity_pb2
    from services.common.protoconv import seconds

    paths: list[Path] = []
    for row in read_manifest(DEV / "manifest.csv"):
        if DEV / row.url not in paths:
            paths.append(DEV / row.url)
    out = []
    for path in paths[:videos]:
        d = decode(DecodeOrder("bench", path, 1.0, 600.0, Path("/tmp"), 1 << 30, 0, False))
        messages = [identity_pb2.AnalyzeVideoRequest.FromString(r) for r in d.frames]
        out.append((path.name, [FrameIn(m.index, seconds(m.timestamp), m.shot, seconds(m.span), m.image).record()
                                for m in messages]))
    return out


def run(videos: int, rounds: int, save: Path | None) -> None:
    cv2.setNumThreads(1)  # as in a face worker
    clips = frames_of(videos)
    model = FaceModel(None, "opencv-mirror")
    model.encode_chips([np.zeros((150, 150, 3), np.uint8)])  # every model loaded before the clock starts
    model.detect(np.zeros((100, 100), np.uint8))
    kept: dict[str, np.ndarray] = {}
    for r in range(rounds):
        stages: dict[str, float] = {}
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        for name, records in clips:
            a = analyze_frames(model, map(FrameIn.from_record, records), 0.5)
            for k, v in a.stage_seconds.items():
                if k.endswith(".cpu"):
                    stages[k[:-4]] = stages.get(k[:-4], 0.0) + v
            for i, p in enumerate(a.people if r == 0 else []):
                kept[f"{name}/{i}/encodings"] = p.encodings
                kept[f"{name}/{i}/boxes"] = np.array(p.boxes)
                kept[f"{name}/{i}/qualities"] = np.array([*p.qualities, p.best_quality, p.faces, p.screen_time_s])
                kept[f"{name}/{i}/crop"] = np.frombuffer(p.best_face, np.uint8)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        print(f"round {r + 1}: {sum(len(f) for _, f in clips)} frames; user {r1.ru_utime - r0.ru_utime:.2f} s, "
              f"system {r1.ru_stime - r0.ru_stime:.2f} s | "
              + " ".join(f"{k} {v:.2f}" for k, v in sorted(stages.items())), flush=True)
    if save is not None:
        np.savez(save, **kept)


def compare(a_path: Path, b_path: Path) -> None:
    a, b = np.load(a_path), np.load(b_path)
    same_keys = set(a.files) == set(b.files)
    both = set(a.files) & set(b.files)
    differ = sorted(k for k in both if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]))
    moved = [float(np.abs(a[k] - b[k]).max()) for k in both if k.endswith("encodings") and a[k].shape == b[k].shape]
    print(f"the same people: {same_keys}; arrays that differ: {len(differ)} {differ[:5]}; "
          f"largest encoding component moved: {max(moved, default=0.0):.3g}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--save", type=Path)
    p.add_argument("--compare", type=Path, nargs=2)
    args = p.parse_args()
    if args.compare:
        compare(*args.compare)
    else:
        run(args.videos, args.rounds, args.save)


if __name__ == "__main__":
    main()
