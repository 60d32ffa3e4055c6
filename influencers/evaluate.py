"""Scoring an export against a corpus's truth: pure pandas/numpy/scipy, no services.

Predicted influencers are matched one to one to true people (Hungarian, maximising the videos they
share). Then, within each video, each predicted appearance is labelled with the true person its
influencer matched (or left unmatched). Metrics:
- incidence P/R/F1: over (video, person) pairs, after the matching;
- B-cubed and pairwise P/R/F1: over the (video, person) memberships, predicted cluster = influencer;
  an unmatched predicted appearance is an item of its own true label, so it costs precision;
- people: predicted vs true count; impure influencers: those spanning two or more true people;
- performance error: |influencer average - that person's true mean| over matched influencers.
Videos with people found that the truth does not label are left out of all of them, and counted; so are the
videos the truth labels that the data dir was never given (another corpus's truth, a larger one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from services.analytics.export import as_written


@dataclass
class Scores:
    true_people: int
    predicted_people: int
    incidence_precision: float
    incidence_recall: float
    incidence_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    impure_influencers: int
    max_performance_error: float
    mean_performance_error: float
    mapping: dict[str, str]
    # Videos with people found that truth.csv does not label (a data dir holding more than the corpus): left
    # out of every score above, as nobody can say who is in them
    unlabelled_videos: int = 0
    # Videos truth.csv labels that the data dir was never given (no row of its videos.csv: dev's truth against
    # the smoke corpus's data): left out too, as nobody asked it to find their people
    unsubmitted_videos: int = 0

    def summary(self) -> str:
        """The scores as JSON, ratios and errors to 4 significant digits (0.9931, not 0.99312169...)."""
        d = asdict(self)
        d.pop("mapping")
        return json.dumps({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in d.items()}, indent=2)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def video_key(url: str) -> str:
    """Truth and manifests name the same video by its file name."""
    return PurePosixPath(url.split("?")[0]).name


def score(truth: pd.DataFrame, appearances: pd.DataFrame, influencers: pd.DataFrame,
          given: set[str] | None = None) -> Scores:
    """`truth`: truth.csv (file, people, performance); `appearances`/`influencers`: the export's CSVs; `given`:
    the video_key of every URL the data dir was given (its videos.csv, any status: a failed video counts as
    missed), None to judge every video of the truth."""
    unsubmitted = 0
    if given is not None:
        kept = truth["file"].map(video_key).isin(given)
        unsubmitted, truth = int((~kept).sum()), truth[kept]
    true_sets = {video_key(r.file): [p for p in str(r.people).split(";") if p and p != "nan"]
                 for r in truth.itertuples()}
    pred_sets: dict[str, list[str]] = defaultdict(list)
    for r in appearances.itertuples():
        pred_sets[video_key(r.video_url)].append(str(r.influencer_id))
    unlabelled = [v for v in pred_sets if v not in true_sets]
    mixed = {i for v in unlabelled for i in pred_sets.pop(v)}  # their average holds unlabelled videos' scores
    people = sorted({p for ps in true_sets.values() for p in ps})
    infs = sorted({i for is_ in pred_sets.values() for i in is_})
    shared = np.zeros((len(infs), len(people)))
    pi, pp = {i: k for k, i in enumerate(infs)}, {p: k for k, p in enumerate(people)}
    for v, ps in true_sets.items():
        for i in pred_sets.get(v, []):
            for p in ps:
                shared[pi[i], pp[p]] += 1
    rows, cols = linear_sum_assignment(-shared) if shared.size else ([], [])
    mapping = {infs[r]: people[c] for r, c in zip(rows, cols, strict=True) if shared[r, c] > 0}
    items_pred, items_true = [], []
    tp = 0
    n_pred = sum(len(v) for v in pred_sets.values())
    n_true = sum(len(v) for v in true_sets.values())
    for v, ps in true_sets.items():
        for i in pred_sets.get(v, []):
            label = mapping.get(i)
            if label in ps:
                tp += 1
                items_pred.append(i)
                items_true.append(label)
            else:
                # A split or a false detection: label it with the person of this video it shares the most
                # videos with (a split then costs recall), or a label of its own when the video has none.
                items_pred.append(i)
                items_true.append(max(ps, key=lambda p: (shared[pi[i], pp[p]], p)) if ps else f"~false:{v}:{i}")
        matched = {mapping.get(i) for i in pred_sets.get(v, [])}
        for p in ps:
            if p not in matched:  # a miss: its own predicted cluster
                items_pred.append(f"~missed:{v}:{p}")
                items_true.append(p)
    inc_p = tp / n_pred if n_pred else 1.0
    inc_r = tp / n_true if n_true else 1.0
    bp, br, pwp, pwr = _cluster_scores(items_pred, items_true)
    impure = 0
    for i in infs:
        labels = {people[c] for c in range(len(people)) if shared[pi[i], c] > 0}
        # impure: the influencer's videos are best explained by two or more true people
        videos = [v for v, is_ in pred_sets.items() if i in is_]
        main = mapping.get(i)
        if main and any(main not in true_sets.get(v, []) and true_sets.get(v) for v in videos) and len(labels) > 1:
            impure += 1
    perf = {video_key(r.file): float(r.performance) for r in truth.itertuples()}
    true_mean = {p: np.mean([perf[v] for v, ps in true_sets.items() if p in ps]) for p in people}
    errors = [abs(float(r.avg_performance) - true_mean[mapping[r.influencer_id]])
              for r in influencers.itertuples() if r.influencer_id in mapping and r.influencer_id not in mixed]
    return Scores(len(people), len(infs), inc_p, inc_r, _f1(inc_p, inc_r), bp, br, _f1(bp, br), pwp, pwr,
                  _f1(pwp, pwr), impure, max(errors, default=0.0), float(np.mean(errors)) if errors else 0.0,
                  mapping, len(unlabelled), unsubmitted)


def _cluster_scores(pred: list[str], true: list[str]) -> tuple[float, float, float, float]:
    """B-cubed precision/recall and pairwise precision/recall of a clustering of items."""
    if not pred:
        return 1.0, 1.0, 1.0, 1.0
    df = pd.DataFrame({"p": pred, "t": true})
    both = df.groupby(["p", "t"]).size()
    p_size = df.groupby("p").size()
    t_size = df.groupby("t").size()
    n = len(df)
    bp = sum(c * c / p_size[p] for (p, _t), c in both.items()) / n
    br = sum(c * c / t_size[t] for (_p, t), c in both.items()) / n
    same_both = sum(c * (c - 1) / 2 for c in both.values)
    same_pred = sum(c * (c - 1) / 2 for c in p_size.values)
    same_true = sum(c * (c - 1) / 2 for c in t_size.values)
    pwp = same_both / same_pred if same_pred else 1.0
    pwr = same_both / same_true if same_true else 1.0
    return float(bp), float(br), float(pwp), float(pwr)


TRUTH_COLUMNS = ("file", "people", "performance")


def score_dirs(export_dir: Path, truth_dir: Path) -> Scores:
    """Scores an export folder against `truth_dir`/truth.csv; ValueError when truth.csv lacks a column."""
    truth = pd.read_csv(truth_dir / "truth.csv", keep_default_na=False)
    if missing := [c for c in TRUTH_COLUMNS if c not in truth.columns]:
        raise ValueError(f"lacks the column(s) {', '.join(missing)} (a truth.csv has {', '.join(TRUTH_COLUMNS)})")
    # URLs as the manifest wrote them: the export guards one starting `@`, `-`, `+` or `=` from spreadsheets with a
    # `'` (`'@mia.mp4`), whose file name was then matched by no truth row.
    videos = pd.read_csv(export_dir / "videos.csv", keep_default_na=False)["video_url"].map(as_written)
    appearances = pd.read_csv(export_dir / "appearances.csv")
    appearances["video_url"] = appearances["video_url"].map(as_written)
    given = {video_key(u) for u in videos if u}
    return score(truth, appearances, pd.read_csv(export_dir / "influencers.csv"), given)
