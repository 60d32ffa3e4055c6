"""Fits the review queue's pair model (services/identity/review_model.py) and writes its weights to
services/identity/review_weights.py: a logistic regression over the pair's evidence, on labelled pairs from

1. the face photos (../shared/corpus/photos): each person's photos, shuffled, cut into "people" of 1 to 4
   faces (as a video's person holds a few faces); every two of them is a pair, kept when their closest faces
   are within the review radius (what the queue's kNN would find), labelled by the photos' names; encoded by
   the runs' encoder (a new store's, opencv-mirror, when no run is given), so that every pair's distances are
   on one scale; and
2. corpora already run through the system (`--run DATA_DIR CORPUS`, repeatable): the queue's own
   candidates (review_store.measure, the same code the service runs), labelled by the truth
   (influencers/review_truth.py). Run a corpus with a lower INFLUENCERS_CLUSTER_THRESHOLD too, for more
   split people to learn from.

Prints calibration as markdown for docs/review.md (Brier score, log loss, reliability tables): 5-fold
cross-validated over pairs, then over groups of people (each pair predicted by a model that never saw either
of its people). The logit's scale and shift that fit the latter (Platt scaling) are folded into the weights
written, so that the probability is meant for other people's faces. The regression is strongly regularised
(C = 0.1, version 3): chosen on held-out corpora of people it never saw (bench/review_heldout.py), where it
ranks true splits above look-alikes. `--hold-out a,b,...` leaves those people out of everything and then
scores the model on their pairs; `--out FILE` writes such a model elsewhere (bench/review_queue.py
--weights); `--nested K` scores the whole recipe leaving each of K groups of people out. Deterministic:
fixed seeds; nothing is fitted at run time.

    .venv/bin/python tools/fit_review_model.py --run data ../shared/corpus/dev [--write]

The runs must share one encoder (FaceStore.recorded_encoder), and a photos cache (`--cache`) records the
encoder that made it: one made by another is refused, not mixed in.
"""

from __future__ import annotations

import argparse
import random
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from influencers.review_truth import label  # noqa: E402
from services.common.settings import ENCODERS, Settings  # noqa: E402
from services.identity.encoder_choice import NEW_STORE_ENCODER, made_by  # noqa: E402
from services.identity.open_store import open_face_store  # noqa: E402
from services.identity.review_model import FEATURES, Evidence, as_wholes, evidence, feature_matrix  # noqa: E402
from services.identity.review_store import measure  # noqa: E402

SEED = 7
VERSION = 4  # of the weights written: 4 is fitted on opencv-mirror encodings (3 was on dlib's plain ones)
GROUPS = 5  # the people are dealt into this many groups for the leave-people-out predictions Platt fits
C = 0.1  # the regression's inverse regularisation: strong, so that no one feature carries look-alikes it saw
CALIBRATE_ON = "all"  # the pairs Platt's scaling is fitted on: "all", or "runs" (the queue's own candidates)
BINS = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001)


def photo_faces(photos: Path, encoder: str) -> dict[str, list[tuple[np.ndarray, float]]]:
    """Per person, (encoding by `encoder`, one of ENCODERS; quality) of each photo with exactly one face (HOG,
    upsampled once)."""
    import cv2

    from services.identity.faces import FaceModel, landmark_points
    from services.identity.quality import assess

    model = FaceModel(encoder=encoder)
    out: dict[str, list[tuple[np.ndarray, float]]] = {}
    for person in sorted(p for p in photos.iterdir() if p.is_dir()):
        for img in sorted(person.glob("*.jpg")):
            bgr = cv2.imread(str(img))
            if bgr is None:
                continue
            rgb, gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            found = model.detect(gray, upsample=1)
            if len(found) != 1:
                continue
            shape = model.landmarks(rgb, found[0].box)
            quality = assess(gray, found[0].box, landmark_points(shape), found[0].score).score
            out.setdefault(person.name, []).append((model.encode(rgb, [shape])[0], quality))
    return out


def cached_photo_faces(photos: Path, cache: Path | None, encoder: str) -> dict[str, list[tuple[np.ndarray, float]]]:
    """photo_faces, read from `cache` when it exists, else computed (and saved there, with `encoder`, when given).
    SystemExit when the cache was made by another encoder (a cache that records none was made by dlib, before
    the record): its distances are on another scale than the runs'."""
    if cache is not None and cache.exists():
        data = np.load(cache)
        made = str(data["encoder"]) if "encoder" in data.files else "dlib"
        if made != encoder:
            raise SystemExit(f"--cache {cache}: its photos were encoded by {made}, the runs by {encoder}; "
                             "delete it (or name another file) to encode them again")
        out: dict[str, list[tuple[np.ndarray, float]]] = {}
        for name, vec, q in zip(data["names"], data["vectors"], data["qualities"], strict=True):
            out.setdefault(str(name), []).append((vec, float(q)))
        return out
    faces = photo_faces(photos, encoder)
    if cache is not None:
        items = [(n, v, q) for n, fs in faces.items() for v, q in fs]
        np.savez(cache, names=np.array([n for n, _, _ in items]), vectors=np.stack([v for _, v, _ in items]),
                 qualities=np.array([q for _, _, q in items]), encoder=np.array(encoder))
    return faces


def run_encoder(data_dir: Path) -> str:
    """The encoder that filled a finished run's face store (encoder_choice.made_by: "dlib" for a store of a
    release before the record)."""
    store = open_face_store(Settings.from_env(data_dir=data_dir, qdrant_url=""))
    try:
        return made_by(store.recorded_encoder(), store.holds_hashes()) or NEW_STORE_ENCODER
    finally:
        store.close()


def one_encoder(runs: dict[str, str]) -> str:
    """The encoder every run (data dir -> its encoder) shares, or NEW_STORE_ENCODER without runs. SystemExit
    when they differ: one model's distances must be on one scale."""
    found = set(runs.values())
    if len(found) > 1:
        raise SystemExit("the runs were made by different encoders (" + ", ".join(f"{d}: {e}" for d, e in
                         sorted(runs.items())) + "): run them again with one INFLUENCERS_ENCODER")
    return found.pop() if found else NEW_STORE_ENCODER


Pairs = tuple[list[Evidence], list[int], list[tuple[str, str]]]  # evidence, 1 = one person, the true names


def photo_pairs(faces: dict[str, list[tuple[np.ndarray, float]]], radius: float) -> Pairs:
    """Pairs of pseudo-people cut from the photos (see the module's docstring), labelled, with their names."""
    rng = random.Random(SEED)
    groups: list[tuple[str, list[tuple[np.ndarray, float]]]] = []
    for name, fs in sorted(faces.items()):
        fs = fs[:]
        rng.shuffle(fs)
        while fs:
            k = rng.randint(1, 4)
            groups.append((name, fs[:k]))
            fs = fs[k:]
    rows, ys, names = [], [], []
    for i, (na, ga) in enumerate(groups):
        for nb, gb in groups[i + 1:]:
            va, vb = np.stack([v for v, _ in ga]), np.stack([v for v, _ in gb])
            e = as_wholes(evidence(va, vb, [q for _, q in ga], [q for _, q in gb]), va.mean(axis=0), vb.mean(axis=0))
            if e.d_min < radius:
                rows.append(e)
                ys.append(int(na == nb))
                names.append((na, nb))
    return rows, ys, names


def run_pairs(data_dir: Path, corpus: Path, threshold: float, band: float) -> Pairs:
    """The queue's candidates on a finished run, labelled by its corpus's truth, with their names."""
    store = open_face_store(Settings.from_env(data_dir=data_dir, qdrant_url=""))
    try:
        truth = label(store, data_dir, corpus)
        found = measure(store, set(), threshold, band)
    finally:
        store.close()
    rows, ys, names = [], [], []
    for c in found:
        a, b = truth.influencers.get(c.item.a, "?a"), truth.influencers.get(c.item.b, "?b")
        if c.evidence.same_frame:
            continue
        rows.append(c.evidence)
        ys.append(int(a == b))
        names.append((a, b))
    return rows, ys, names


def people_folds(names: list[tuple[str, str]], k: int) -> list[np.ndarray]:
    """Leave-people-out folds: the people are dealt into `k` groups; fold i tests the pairs showing anyone of
    group i (not tested before) and is fitted on the pairs showing no one of it. What the model says about
    people it never saw, as it will on another brand's videos."""
    people = sorted({n for pair in names for n in pair})
    random.Random(SEED).shuffle(people)
    group = {n: i % k for i, n in enumerate(people)}
    tested = np.zeros(len(names), dtype=bool)
    folds = []
    for i in range(k):
        shows = np.array([group[a] == i or group[b] == i for a, b in names])
        folds.append((np.flatnonzero(~shows), np.flatnonzero(shows & ~tested)))
        tested |= shows
    return folds


def standardised_logistic(x: np.ndarray, y: np.ndarray, c: float):
    """The regression every fit here makes: inputs standardised (the scaler fitted on `x`), then a logistic
    regression with inverse regularisation `c`. Returns (scaler, regression)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    return scaler, LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x), y)


def fit(x: np.ndarray, y: np.ndarray, names: list[tuple[str, str]], c: float, calibrate: np.ndarray | None = None,
        groups: int = 5):
    """The model on standardised inputs: a logistic regression (inverse regularisation `c`) whose logit is
    scaled and shifted (Platt) to fit its own leave-people-out predictions (`groups` groups of people), on the pairs
    `calibrate` selects (default all). Returns (scaler, regression with the scaling folded in, (the
    leave-people-out logits, scale, shift))."""
    from sklearn.linear_model import LogisticRegression

    logit_oof = np.zeros(len(y))
    for train, test in people_folds(names, groups):
        scaler, lr = standardised_logistic(x[train], y[train], c)
        logit_oof[test] = lr.decision_function(scaler.transform(x[test]))
    sel = np.ones(len(y), dtype=bool) if calibrate is None or not y[calibrate].any() else calibrate
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logit_oof[sel][:, None], y[sel])
    scale, shift = float(platt.coef_[0][0]), float(platt.intercept_[0])
    scaler, lr = standardised_logistic(x, y, c)
    lr.coef_, lr.intercept_ = lr.coef_ * scale, lr.intercept_ * scale + shift
    return scaler, lr, (logit_oof, scale, shift)


def nested(x: np.ndarray, y: np.ndarray, names: list[tuple[str, str]], runs: np.ndarray, args) -> None:
    """What a sealed corpus of other people sees, over every person: the people are dealt into `--nested`
    groups; each group's pairs are predicted by the whole recipe (regression and Platt scaling) fitted on
    the pairs showing no one of that group. Prints the reliability of those predictions, and for the runs'
    pairs (the queue's own candidates) how many reach the floor and how many of those are the same person."""
    from sklearn.metrics import brier_score_loss

    p = np.full(len(y), np.nan)
    for train, test in people_folds(names, args.nested):
        scaler, lr, _ = fit(x[train], y[train], [names[i] for i in train], args.c,
                            runs[train] if args.calibrate_on == "runs" else None, args.groups)
        p[test] = lr.predict_proba(scaler.transform(x[test]))[:, 1]
    print(f"\nnested, leaving {args.nested} groups of people out of the whole recipe: Brier "
          f"{brier_score_loss(y, p):.4f}\n")
    print(reliability(p, y))
    if runs.any():
        print(f"\nthe runs' pairs: Brier {brier_score_loss(y[runs], p[runs]):.4f}\n")
        print(reliability(p[runs], y[runs]))
        for floor in (0.5, 0.8, 0.9, 0.95):
            hit = runs & (p >= floor)
            print(f"  at or above {floor:.2f}: {int(hit.sum())} run pairs, {int(y[hit].sum())} same "
                  f"({y[hit].mean() if hit.any() else 0:.0%}); the runs hold {int(y[runs].sum())} same")


def reliability(p: np.ndarray, y: np.ndarray) -> str:
    """A markdown reliability table: per probability bin, the pairs, the mean predicted and the share same."""
    lines = ["| predicted | pairs | mean predicted | share same |", "|---|---:|---:|---:|"]
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        sel = (p >= lo) & (p < hi)
        if sel.any():
            lines.append(f"| {lo:.2f}–{min(hi, 1.0):.2f} | {int(sel.sum())} | {p[sel].mean():.3f} | "
                         f"{y[sel].mean():.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "corpus" / "photos")
    ap.add_argument("--run", nargs=2, action="append", default=[], metavar=("DATA_DIR", "CORPUS"),
                    help="a finished `influencers run --data-dir DATA_DIR` on CORPUS (with truth.csv)")
    ap.add_argument("--hold-out", default="", help="comma-separated people left out of every pair")
    ap.add_argument("--band", type=float, default=Settings().review_band,
                    help="the review band the candidates are found with (default: the settings')")
    ap.add_argument("--write", action="store_true", help="write services/identity/review_weights.py")
    ap.add_argument("--out", type=Path, help="write the weights to this file instead (e.g. a model fitted without "
                    "some people, for bench/review_queue.py --weights)")
    ap.add_argument("--cache", type=Path, help="an .npz keeping the photos' encodings between runs")
    ap.add_argument("--c", type=float, default=C, help=f"the regression's inverse regularisation (default {C})")
    ap.add_argument("--calibrate-on", choices=("all", "runs"), default=CALIBRATE_ON,
                    help=f"the pairs the Platt scaling is fitted on (default {CALIBRATE_ON})")
    ap.add_argument("--groups", type=int, default=GROUPS,
                    help=f"groups of people the Platt scaling's predictions leave out (default {GROUPS})")
    ap.add_argument("--nested", type=int, default=0, metavar="K",
                    help="also score the whole recipe leaving each of K groups of people out (see nested())")
    args = ap.parse_args()
    from sklearn.metrics import brier_score_loss, log_loss
    from sklearn.model_selection import StratifiedKFold

    held = {h for h in args.hold_out.split(",") if h}
    threshold = Settings().cluster_threshold
    encoder = one_encoder({data_dir: run_encoder(Path(data_dir)) for data_dir, _ in args.run})
    assert encoder in ENCODERS, encoder
    print(f"encoder: {encoder}")
    sources: dict[str, Pairs] = {"photos": photo_pairs(cached_photo_faces(args.photos, args.cache, encoder),
                                                       threshold + args.band)}
    for data_dir, corpus in args.run:
        sources[f"run {Path(data_dir).name}"] = run_pairs(Path(data_dir), Path(corpus), threshold, args.band)
    every = [e for r, _, _ in sources.values() for e in r]
    y_all = np.array([v for _, ys, _ in sources.values() for v in ys])
    names_all = [n for _, _, ns in sources.values() for n in ns]
    out = np.array([a in held or b in held for a, b in names_all], dtype=bool)
    origin_all = np.array([name for name, (r, _, _) in sources.items() for _ in r])
    x_all = feature_matrix(every)
    x, y, origin = x_all[~out], y_all[~out], origin_all[~out]
    names = [n for n, o in zip(names_all, out, strict=True) if not o]
    for name in sources:
        sel = origin_all == name
        print(f"{name}: {int((sel & ~out).sum())} pairs, {int(y_all[sel & ~out].sum())} same"
              + (f"; held out: {int((sel & out).sum())} pairs, {int(y_all[sel & out].sum())} same" if held else ""))
    oof = np.zeros(len(y))
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    for train, test in folds.split(x, y):
        scaler, lr = standardised_logistic(x[train], y[train], args.c)
        oof[test] = lr.predict_proba(scaler.transform(x[test]))[:, 1]
    print(f"\n5-fold cross-validated, {len(y)} pairs ({int(y.sum())} same): Brier score "
          f"{brier_score_loss(y, oof):.4f} (always saying the base rate {y.mean():.3f}: "
          f"{brier_score_loss(y, np.full(len(y), y.mean())):.4f}), log loss {log_loss(y, oof):.4f}\n")
    print(reliability(oof, y))
    for name in sources:
        sel = origin == name
        if sel.any() and 0 < y[sel].sum() < sel.sum():
            print(f"\n{name}: Brier {brier_score_loss(y[sel], oof[sel]):.4f}")
            print(reliability(oof[sel], y[sel]))
    # The same, leaving people out: then the scale of the logit that fits people never seen (Platt's two
    # numbers), folded into the final weights, so that the probability holds for other people's faces.
    runs = np.array([o != "photos" for o in origin])
    scaler, lr, (logit_oof, scale, shift) = fit(x, y, names, args.c, runs if args.calibrate_on == "runs" else None,
                                                args.groups)
    raw, tempered = 1 / (1 + np.exp(-logit_oof)), 1 / (1 + np.exp(-(logit_oof * scale + shift)))
    print(f"\nleaving people out ({args.groups} groups of people): Brier {brier_score_loss(y, raw):.4f}; with the "
          f"logit scaled by {scale:.3f} and shifted by {shift:+.3f} (fitted on these predictions"
          f"{', of the runs only' if args.calibrate_on == 'runs' else ''}): "
          f"Brier {brier_score_loss(y, tempered):.4f}\n")
    print(reliability(tempered, y))
    if args.calibrate_on == "runs" and runs.any():
        print(f"\nthe runs' pairs only: Brier {brier_score_loss(y[runs], tempered[runs]):.4f}\n")
        print(reliability(tempered[runs], y[runs]))
    if args.nested:
        nested(x, y, names, runs, args)
    print("\nweights (standardised inputs, scaled):")
    for name, c in zip(FEATURES, lr.coef_[0], strict=True):
        print(f"  {name:>20} {c:+.3f}")
    print(f"  {'intercept':>20} {lr.intercept_[0]:+.3f}")
    if out.any():
        p_out, y_out = lr.predict_proba(scaler.transform(x_all[out]))[:, 1], y_all[out]
        print(f"\nheld-out people ({', '.join(sorted(held))}), by the model fitted without them: {len(y_out)} pairs "
              f"({int(y_out.sum())} same), Brier {brier_score_loss(y_out, p_out):.4f}")
        print(reliability(p_out, y_out))
    if args.write or args.out:
        write_weights(scaler, lr, len(y), int(y.sum()), sorted(sources), sorted(held), encoder, args.out)


def write_weights(scaler, lr, pairs: int, same: int, sources: list[str], held: list[str], encoder: str,
                  out: Path | None = None) -> None:
    def tup(values) -> str:
        body = textwrap.fill(", ".join(f"{float(v):.6g}" for v in values) + ",", 110, initial_indent="    ",
                             subsequent_indent="    ")
        return "(\n" + body + "\n)"

    about = textwrap.fill(
        f"The review pair model's weights (services/identity/review_model.py), written by tools/fit_review_model.py: "
        f"logistic regression on standardised inputs, fitted on {pairs} labelled pairs ({same} same) from "
        f"{', '.join(sources)}{'; held out: ' + ', '.join(held) if held else ''}, every face encoded by {encoder}. "
        "Do not edit by hand.", 110, break_on_hyphens=False)
    text = f'''"""{about}"""

VERSION = {VERSION}
ENCODER = {encoder!r}  # whose encodings the model was fitted on: its distances are on that encoder's scale
FEATURES = (\n{textwrap.fill(", ".join(repr(f) for f in FEATURES) + ",", 110, initial_indent="    ",
                               subsequent_indent="    ")}\n)
MEAN = {tup(scaler.mean_)}
SCALE = {tup(scaler.scale_)}
COEF = {tup(lr.coef_[0])}
INTERCEPT = {float(lr.intercept_[0]):.6g}
'''
    out = out or ROOT / "services" / "identity" / "review_weights.py"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
