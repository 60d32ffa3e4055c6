"""Chooses the identity thresholds from data: sweeps the clustering threshold (average linkage over the
mean pairwise Euclidean distance of two people's faces, as `IdentityRegistry.recluster` uses) on

1. the labelled face photos in ../shared/corpus/photos (each photo one "person" of one face), and
2. a corpus already run through the system (`--data-dir` of an `influencers run`, `--corpus` its truth),
   re-clustering the stored faces offline for every threshold,

prints B-cubed precision/recall/F1 and people counts per threshold, plots them to
bench/out/threshold_sweep.png, and names the threshold that maximises the worse of the two F0.5 curves
(the lowest one within 0.002 of that best): a default should hold for both the still photos and the
videos, not for one corpus, and precision counts more than recall (a merge corrupts two influencers'
records, a split halves one). Clustering uses the default ambiguity margin of 0.04.

    .venv/bin/python bench/threshold_sweep.py --data-dir data --corpus ../shared/corpus/dev
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from influencers.evaluate import _cluster_scores, _f1, score  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.identity.matching import cluster_people, person_distances  # noqa: E402
from services.identity.open_store import open_face_store  # noqa: E402

THRESHOLDS = np.round(np.arange(0.44, 0.76, 0.02), 2)


def photo_encodings(photos: Path) -> tuple[list[np.ndarray], list[str]]:
    import face_recognition

    vecs, labels = [], []
    for person in sorted(p for p in photos.iterdir() if p.is_dir()):
        for img in sorted(person.glob("*.jpg")):
            image = face_recognition.load_image_file(img)
            boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1)
            if len(boxes) != 1:
                continue
            vecs.append(face_recognition.face_encodings(image, boxes)[0][None, :])
            labels.append(person.name)
    return vecs, labels


def sweep_photos(photos: Path) -> pd.DataFrame:
    vecs, labels = photo_encodings(photos)
    dist = person_distances(vecs)
    same = np.array(labels)[:, None] == np.array(labels)[None, :]
    upper = np.triu_indices(len(labels), 1)
    print(f"photos: {len(labels)} faces of {len(set(labels))} people; same-person distance mean "
          f"{dist[upper][same[upper]].mean():.3f}, different-person mean {dist[upper][~same[upper]].mean():.3f}, "
          f"min {dist[upper][~same[upper]].min():.3f}")
    rows = []
    for t in THRESHOLDS:
        pred = [str(x) for x in cluster_people(dist, [], float(t), 0.04)]
        bp, br, _, _ = _cluster_scores(pred, labels)
        rows.append({"threshold": t, "precision": bp, "recall": br, "f1": _f1(bp, br), "people": len(set(pred)),
                     "true_people": len(set(labels))})
    return pd.DataFrame(rows)


def sweep_corpus(data_dir: Path, corpus: Path) -> pd.DataFrame:
    store = open_face_store(Settings.from_env(data_dir=data_dir, qdrant_url=""))  # the embedded store only
    try:
        faces = list(store.scroll(with_vectors=True))
    finally:
        store.close()
    with sqlite3.connect(data_dir / "analytics.sqlite3") as con:
        videos = {v: (u, p) for v, u, p in con.execute("select video_id, url, performance from videos")}
    groups: dict[tuple[str, int], list] = defaultdict(list)
    for f in faces:
        groups[f.record.person_key].append(f)
    keys = sorted(groups)
    dist = person_distances([np.stack([f.vector for f in groups[k]]) for k in keys])
    position = {k: i for i, k in enumerate(keys)}
    cannot = [(position[k], position[(k[0], int(o))]) for k in keys
              for o in groups[k][0].record.cooccurs if (k[0], int(o)) in position]
    truth = pd.read_csv(corpus / "truth.csv", keep_default_na=False)
    rows = []
    for t in THRESHOLDS:
        labels = cluster_people(dist, cannot, float(t), 0.04)
        pairs = sorted({(videos[k[0]][0], f"c{labels[i]}") for i, k in enumerate(keys)})
        app = pd.DataFrame(pairs, columns=["video_url", "influencer_id"])
        app["performance"] = app.video_url.map({u: p for u, p in videos.values()})
        inf = app.groupby("influencer_id").performance.mean().rename("avg_performance").reset_index()
        s = score(truth, app, inf)
        rows.append({"threshold": t, "precision": s.bcubed_precision, "recall": s.bcubed_recall,
                     "f1": s.bcubed_f1, "people": s.predicted_people, "true_people": s.true_people,
                     "impure": s.impure_influencers, "max_perf_error": s.max_performance_error})
    return pd.DataFrame(rows)


def f_half(df: pd.DataFrame) -> pd.Series:
    """F-beta with beta = 0.5: precision weighs twice as much as recall."""
    p, r = df.precision, df.recall
    return (1.25 * p * r / (0.25 * p + r)).fillna(0.0)


def plot(curves: dict[str, pd.DataFrame], chosen: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, df in curves.items():
        ax.plot(df.threshold, df.precision, "--", label=f"{name} precision")
        ax.plot(df.threshold, df.recall, ":", label=f"{name} recall")
        ax.plot(df.threshold, df.f1, "-", lw=2, label=f"{name} F1")
    ax.axvline(chosen, color="k", lw=0.8)
    ax.set_xlabel("clustering threshold (mean pairwise Euclidean distance)")
    ax.set_ylabel("B-cubed")
    ax.set_ylim(0.5, 1.01)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "corpus" / "photos")
    ap.add_argument("--data-dir", type=Path, help="data dir of a finished `influencers run` on --corpus")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    curves = {"photos": sweep_photos(args.photos)}
    if args.data_dir:
        curves["videos"] = sweep_corpus(args.data_dir, args.corpus)
    for name, df in curves.items():
        print(f"\n{name}\n{df.to_string(index=False, float_format=lambda x: f'{x:.4f}')}")
    worst = pd.concat([f_half(df.set_index("threshold")) for df in curves.values()], axis=1).min(axis=1)
    best = worst.max()
    plateau = worst.index[worst >= best - 0.002]
    chosen = float(min(plateau))
    print(f"\nchosen cluster threshold: {chosen:.2f} — the lowest (merging least) of the thresholds whose worse F0.5 "
          f"({', '.join(curves)}) is within 0.002 of its best ({best:.4f}): {list(plateau)}")
    plot(curves, chosen, args.out / "threshold_sweep.png")
    (args.out / "threshold_sweep.json").write_text(json.dumps(
        {"chosen": chosen, **{k: v.to_dict(orient="records") for k, v in curves.items()}}, indent=1))


if __name__ == "__main__":
    main()
