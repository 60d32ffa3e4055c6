"""Who each stored person and influencer truly is, for a corpus run through the system (`influencers run
--data-dir D` on a corpus with truth.csv): the labels the review model is fitted on (tools/fit_review_model.py)
and the simulated analyst answers with (bench/review_queue.py). Offline tools only: nothing at run time reads
the truth.

A person (one video's faces of one individual) is the true person of its video whose spans on screen hold
most of its faces' times; when two are on screen at once (a split screen), the one whose mean face (from the
people no doubt remains about) is nearest. An influencer is the true person most of its faces are."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from influencers.evaluate import video_key
from services.identity.facestore import FaceStore

SLACK_S = 0.5  # a face sampled just outside a span (frame times are rounded) still counts for it


@dataclass
class Truth:
    """person key (video id, person) -> true name; influencer id -> true name; and the true people of
    the corpus that the run should have found (those of the videos it analysed)."""

    people: dict[tuple[str, int], str]
    influencers: dict[str, str]
    true_people: set[str]


def video_files(data_dir: Path) -> dict[str, str]:
    """video id -> file name, from the analytics store of the run."""
    with sqlite3.connect(data_dir / "analytics.sqlite3") as con:
        return {str(v): video_key(str(u)) for v, u in con.execute("select video_id, url from videos")}


def label(store: FaceStore, data_dir: Path, corpus: Path) -> Truth:
    """The truth of every stored person and influencer of a run (see the module's docstring)."""
    truth = pd.read_csv(corpus / "truth.csv", keep_default_na=False)
    by_file = {video_key(r.file): ([p for p in str(r.people).split(";") if p], json.loads(r.spans or "{}"))
               for r in truth.itertuples()}
    files = video_files(data_dir)
    times: dict[tuple[str, int], list[float]] = defaultdict(list)
    vectors: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
    for f in store.scroll(with_vectors=True):
        r = f.record
        if r.reference:
            continue
        times[r.person_key].append(r.timestamp_s)
        vectors[r.person_key].append(f.vector)
    people: dict[tuple[str, int], str] = {}
    doubt: dict[tuple[str, int], list[str]] = {}
    for key, ts in times.items():
        names, spans = by_file.get(files.get(key[0], ""), ([], {}))
        if not names:
            people[key] = f"~nobody:{key[0]}:{key[1]}"
            continue
        held = {n: sum(any(s - SLACK_S <= t <= e + SLACK_S for s, e in spans.get(n, [])) for t in ts) for n in names}
        best = max(held.values())
        top = [n for n in names if held[n] == best]
        if len(top) == 1:
            people[key] = top[0]
        else:
            doubt[key] = top
    centres = defaultdict(list)
    for key, name in people.items():
        centres[name].extend(vectors[key])
    mean = {name: np.mean(v, axis=0) for name, v in centres.items()}
    for key, names in doubt.items():
        face = np.mean(vectors[key], axis=0)
        people[key] = min(names, key=lambda n: (float(np.linalg.norm(face - mean[n])) if n in mean else 9.0, n))
    analysed = {files[v] for v in files}
    true_people = {n for f, (names, _) in by_file.items() if f in analysed for n in names}
    return Truth(people, influencers_of(store, people), true_people)


def influencers_of(store: FaceStore, people: dict[tuple[str, int], str]) -> dict[str, str]:
    """influencer id -> the true person most of its (non-reference) faces are, as the store stands now (after
    merges, too)."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for f in store.scroll():
        r = f.record
        if r.influencer_id and not r.reference and r.person_key in people:
            votes[r.influencer_id][people[r.person_key]] += 1
    return {inf: max(sorted(c), key=lambda n: c[n]) for inf, c in votes.items()}


def found(influencers: dict[str, str], hidden: set[str]) -> tuple[int, int, list[str]]:
    """(influencers shown, true people they are, the true people split over several): false detections
    (~nobody) and hidden influencers left out."""
    shown = {i: n for i, n in influencers.items() if i not in hidden and not n.startswith("~")}
    per = Counter(shown.values())
    return len(shown), len(per), sorted(n for n, c in per.items() if c > 1)
