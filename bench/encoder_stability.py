"""How far a face's 128-d encoding moves when its detector box moves, and whether a test-time-augmented encoding
(the mean of several encodings of one face) moves less while keeping same and different people apart.

The pipeline's encodings depend on the box through dlib's 5-point landmarks: the shape predictor starts from the
box, the chip is aligned by the landmarks it returns, so a box moved by HOG's grid (12-17 px between a
whole-frame search and a search around a located face) moves the chip by a pixel or two and the encoding by up
to 0.28 for some faces (docs/identity.md, "Why it is off by default").

For faces of each corpus (HOG at 600 px short side, as the pipeline's fine search; faces fit to encode), it
moves the box by 4, 8, 12 and 16 px (right, down and diagonally) and scales it by 0.9 and 1.1 about its middle,
takes the landmarks and chip again, and encodes each chip by every variant:
- plain: dlib's ResNet once (run by OpenCV, as a new store's `opencv` encoder);
- mirror: the mean of the chip's encoding and its mirror image's;
- shift5: the mean over the chip and the chip moved by 2 px up, down, left and right (dlib-style jitter with a
  fixed set of moves).
It prints, per variant: the distance moved (median, p95, max over faces and moves) and, between faces of
single-person videos (labelled by the corpus's truth.csv), the distances of same-person pairs (other videos) and
of different-person pairs, with the error of the best single threshold and the share of same pairs over the
pipeline's threshold (0.55) and different pairs under it. Encoder passes are timed.

    .venv/bin/python bench/encoder_stability.py CORPUS_DIR... [--videos 60] [--frames 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.identity.faces import FaceModel, landmark_points  # noqa: E402
from services.identity.quality import assess  # noqa: E402

SHORT_SIDE = 600
THRESHOLD = 0.55
MOVES = [(dx * m, dy * m, 1.0) for m in (4, 8, 12, 16) for dx, dy in ((1, 0), (0, 1), (-1, -1))] + \
        [(0, 0, 0.9), (0, 0, 1.1)]
SHIFT = 2  # px of the 150 px chip, shift5's moves


def moved(box: tuple[int, int, int, int], dx: int, dy: int, scale: float) -> tuple[int, int, int, int]:
    top, right, bottom, left = box
    cx, cy = (left + right) / 2 + dx, (top + bottom) / 2 + dy
    hw, hh = (right - left) * scale / 2, (bottom - top) * scale / 2
    return int(round(cy - hh)), int(round(cx + hw)), int(round(cy + hh)), int(round(cx - hw))


def shifted(chip: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(chip, m, (chip.shape[1], chip.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def variants(chip: np.ndarray) -> dict[str, list[np.ndarray]]:
    shifts = [chip] + [shifted(chip, dx, dy) for dx, dy in ((SHIFT, 0), (-SHIFT, 0), (0, SHIFT), (0, -SHIFT))]
    return {"plain": [chip], "mirror": [chip, chip[:, ::-1]], "shift5": shifts}


def faces_of(corpus: Path, model: FaceModel, videos: int, frames: int) -> list[dict]:
    """Faces fit to encode, each with its chip for the HOG box and for every move, and its person when its
    video has one true person and its frame one face."""
    with (corpus / "truth.csv").open() as f:
        rows = list(csv.DictReader(f))
    step = max(1, len(rows) // videos)
    out = []
    for row in rows[::step][:videos]:
        people = [p for p in row["people"].split(";") if p]
        cap = cv2.VideoCapture(str(corpus / row["file"]))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        for k in range(frames):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(n * (k + 0.5) / frames))
            ok, bgr = cap.read()
            if not ok:
                continue
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            s = min(1.0, SHORT_SIDE / min(gray.shape))
            dets = model.detect(cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
            found = []
            for d in dets:
                box = tuple(int(round(v / s)) for v in d.box)
                shape = model.landmarks(rgb, box)
                if assess(gray, box, landmark_points(shape), d.score).encodable:
                    found.append((box, shape))
            for box, shape in found:
                chips = [model.chip(rgb, shape)]
                for dx, dy, sc in MOVES:
                    chips.append(model.chip(rgb, model.landmarks(rgb, moved(box, dx, dy, sc))))
                person = people[0] if len(people) == 1 and len(found) == 1 else None
                out.append({"corpus": corpus.name, "video": row["video"], "person": person,
                            "height": box[2] - box[0], "chips": chips})
        cap.release()
    return out


def summary(enc: dict[str, np.ndarray], faces: list[dict]) -> dict[str, dict]:
    """enc[variant]: (faces, 1 + moves, 128)."""
    labelled = [i for i, f in enumerate(faces) if f["person"]]
    same, diff = [], []
    for a in range(len(labelled)):
        for b in range(a + 1, len(labelled)):
            fa, fb = faces[labelled[a]], faces[labelled[b]]
            if fa["corpus"] != fb["corpus"] or fa["video"] == fb["video"]:
                continue
            (same if fa["person"] == fb["person"] else diff).append((labelled[a], labelled[b]))
    out = {}
    for name, e in enc.items():
        move = np.linalg.norm(e[:, 1:] - e[:, :1], axis=2)
        worst = move.max(axis=1)
        ds = np.array([np.linalg.norm(e[i, 0] - e[j, 0]) for i, j in same])
        dd = np.array([np.linalg.norm(e[i, 0] - e[j, 0]) for i, j in diff])
        cuts = np.linspace(0.2, 0.9, 141)
        errs = [(np.sum(ds > c) + np.sum(dd <= c)) / max(1, len(ds) + len(dd)) for c in cuts]
        best = int(np.argmin(errs))
        norms = np.linalg.norm(e[:, 0], axis=1)
        out[name] = {
            "move_median": float(np.median(move)), "move_p95": float(np.percentile(move, 95)),
            "move_max": float(move.max()), "faces_moved_over_0.07": int(np.sum(worst > 0.07)),
            "norm_median": float(np.median(norms)), "norm_p5_p95": [float(np.percentile(norms, 5)),
                                                                   float(np.percentile(norms, 95))],
            "same_pairs": len(ds), "same_median": float(np.median(ds)) if len(ds) else None,
            "same_p95": float(np.percentile(ds, 95)) if len(ds) else None,
            "diff_pairs": len(dd), "diff_p5": float(np.percentile(dd, 5)) if len(dd) else None,
            "diff_median": float(np.median(dd)) if len(dd) else None,
            "same_over_0.55": float(np.mean(ds > THRESHOLD)) if len(ds) else None,
            "diff_under_0.55": float(np.mean(dd <= THRESHOLD)) if len(dd) else None,
            "best_cut": float(cuts[best]), "best_cut_error": float(errs[best]),
            # the gap between the classes in units of the box move: how many p95 moves fit between the
            # 95th percentile of same-person distances and the 5th of different-person distances
            "gap_over_move_p95": (float((np.percentile(dd, 5) - np.percentile(ds, 95)) / np.percentile(move, 95))
                                  if len(ds) and len(dd) else None),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", nargs="+", type=Path, help="corpus folders (truth.csv, videos/)")
    ap.add_argument("--videos", type=int, default=60, help="videos a corpus, evenly spread")
    ap.add_argument("--frames", type=int, default=2, help="frames a video, evenly spread")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "encoder_stability.json")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    model = FaceModel(encoder="opencv")
    faces = [f for c in args.corpora for f in faces_of(c, model, args.videos, args.frames)]
    print(f"{len(faces)} faces ({sum(1 for f in faces if f['person'])} labelled), {len(MOVES)} moves each",
          file=sys.stderr)
    enc: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name in variants(faces[0]["chips"][0]):
        t0 = time.process_time()
        per_face = []
        for f in faces:
            groups = [variants(c)[name] for c in f["chips"]]
            flat = model.encode_chips([c for g in groups for c in g]).reshape(len(groups), len(groups[0]), 128)
            per_face.append(flat.mean(axis=1))
        enc[name] = np.stack(per_face)
        seconds[name] = (time.process_time() - t0) / (len(faces) * (1 + len(MOVES)))
    result = {"faces": len(faces), "moves": MOVES, "cpu_ms_a_face": {k: v * 1000 for k, v in seconds.items()},
              "by_corpus": {}, "all": summary(enc, faces)}
    for c in args.corpora:
        idx = [i for i, f in enumerate(faces) if f["corpus"] == c.name]
        if idx:
            result["by_corpus"][c.name] = summary({k: v[idx] for k, v in enc.items()}, [faces[i] for i in idx])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    keys = ["move_median", "move_p95", "move_max", "faces_moved_over_0.07", "norm_median", "same_median",
            "same_p95", "diff_p5", "diff_median", "same_over_0.55", "diff_under_0.55", "best_cut", "best_cut_error",
            "gap_over_move_p95"]
    for scope, res in [("all", result["all"]), *result["by_corpus"].items()]:
        print(f"\n## {scope}\n| variant | cpu ms/face | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 2) + "|")
        for name, r in res.items():
            vals = [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys]
            print(f"| {name} | {result['cpu_ms_a_face'][name]:.1f} | " + " | ".join(vals) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
