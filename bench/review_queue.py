"""The "same person?" queue answered by a simulated analyst who knows the truth: on a copy of a finished run
(`influencers run MANIFEST --data-dir D`), the analyst answers the queue's first item, "same" when the two
influencers are truly one person (influencers/review_truth.py) and "different" otherwise, and again, until
nothing is left at or above the probability floor; then says what is left under it. Prints the items
answered, the share "same", answers per 100 videos, and influencers against true people before and after.

`--code ROOT` answers the queue of another checkout instead (today's queue: `--code /work/main`, a band of
0.12 over the threshold, ordered by distance, no floor), through that checkout's own review_store in a
subprocess, with the same truth.

Targets (issue 20): at least half "same", at most 5 answers per 100 videos, afterwards one influencer per
person found.

    .venv/bin/python bench/review_queue.py --data-dir data [--corpus ../shared/corpus/dev] [--code ../main]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from influencers.review_truth import found, influencers_of, label  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.identity import corrections  # noqa: E402
from services.identity.open_store import open_face_store  # noqa: E402

MAX_ANSWERS = 1000

# Today's queue, run with another checkout's code (its review_store.review_items) on the copy: reads the
# person truth as JSON on stdin, answers, prints the items as JSON lines.
OTHER = r"""
import json, sys
from collections import Counter, defaultdict
from services.common.settings import Settings
from services.identity import corrections
from services.identity.open_store import open_face_store
from services.identity.review_store import review_items
people = {tuple(json.loads(k)): v for k, v in json.load(sys.stdin).items()}
s = Settings.from_env(data_dir=sys.argv[1], qdrant_url="")
store = open_face_store(s)
def truth():
    votes = defaultdict(Counter)
    for f in store.scroll():
        r = f.record
        if r.influencer_id and not r.reference and r.person_key in people:
            votes[r.influencer_id][people[r.person_key]] += 1
    return {i: max(sorted(c), key=lambda n: c[n]) for i, c in votes.items()}
for _ in range(int(sys.argv[2])):
    items = review_items(store, corrections.answered_pairs(store), store.hidden(), s.cluster_threshold,
                         s.review_band if len(sys.argv) < 4 else float(sys.argv[3]), 1)
    if not items:
        break
    i, t = items[0], truth()
    reply = "same" if t.get(i.a) == t.get(i.b) else "different"
    print(json.dumps({"a": i.a, "b": i.b, "name_a": t.get(i.a, ""), "name_b": t.get(i.b, ""),
                      "distance": i.distance, "probability": None, "reason": i.reason, "answer": reply}), flush=True)
    corrections.answer(store, i.a, i.b, reply)
store.close()
"""


def videos_of(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "analytics.sqlite3") as con:
        return int(con.execute("select count(*) from videos").fetchone()[0])


def load_weights(path: Path) -> ModuleType:
    """A weights module of review_weights' shape from a file (tools/fit_review_model.py --out)."""
    spec = importlib.util.spec_from_file_location(f"review_weights_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--weights {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def influencer_videos(store) -> dict[str, int]:
    """Influencer id -> how many videos it is in (copies and reference photos aside)."""
    videos: dict[str, set[str]] = {}
    for f in store.scroll():
        r = f.record
        if r.influencer_id and not r.copy and not r.reference:
            videos.setdefault(r.influencer_id, set()).add(r.video_id)
    return {i: len(v) for i, v in videos.items()}


def answer_ours(work: Path, people: dict[tuple[str, int], str], floor: float, band: float,
                weights: ModuleType | None = None, small: tuple[int, float] | None = None) -> tuple[list, list]:
    """This checkout's queue: (items answered, items left under the floor), each a dict. `small` (videos,
    lower bound): then also review.small_influencer_items, one at a time, as the queue does not yet."""
    from services.identity.review import small_influencer_items
    from services.identity.review_store import review_queue

    settings = Settings.from_env(data_dir=work, qdrant_url="")
    store = open_face_store(settings)
    done: list[dict] = []
    try:
        for _ in range(MAX_ANSWERS):
            q = review_queue(store, corrections.answered_pairs(store), store.hidden(), settings.cluster_threshold,
                             band, floor, 1, weights=weights)
            if not q.items:
                break
            i, truth = q.items[0], influencers_of(store, people)
            reply = "same" if truth.get(i.a) == truth.get(i.b) else "different"
            done.append({"a": i.a, "b": i.b, "name_a": truth.get(i.a, ""), "name_b": truth.get(i.b, ""),
                         "distance": i.distance, "probability": i.probability, "reason": i.reason, "answer": reply,
                         "one_video": i.video_a == i.video_b})
            corrections.answer(store, i.a, i.b, reply)
        for _ in range(MAX_ANSWERS if small else 0):
            answered = corrections.answered_pairs(store)
            q = review_queue(store, answered, store.hidden(), settings.cluster_threshold, band, floor, MAX_ANSWERS,
                             unlikely=True, weights=weights)
            extra = small_influencer_items(q.items, answered, influencer_videos(store), *small)
            if not extra:
                break
            i, truth = extra[0], influencers_of(store, people)
            reply = "same" if truth.get(i.a) == truth.get(i.b) else "different"
            done.append({"a": i.a, "b": i.b, "name_a": truth.get(i.a, ""), "name_b": truth.get(i.b, ""),
                         "distance": i.distance, "probability": i.probability, "reason": i.reason, "answer": reply,
                         "one_video": i.video_a == i.video_b})
            corrections.answer(store, i.a, i.b, reply)
        q = review_queue(store, corrections.answered_pairs(store), store.hidden(), settings.cluster_threshold,
                         band, floor, MAX_ANSWERS, unlikely=True, weights=weights)
        truth = influencers_of(store, people)
        left = [{"a": i.a, "b": i.b, "name_a": truth.get(i.a, ""), "name_b": truth.get(i.b, ""),
                 "probability": i.probability, "same": truth.get(i.a) == truth.get(i.b)} for i in q.items]
    finally:
        store.close()
    return done, left


def video_splits(store, people: dict[tuple[str, int], str]) -> list[tuple[str, str]]:
    """(video id, true name) of each person split inside one video: one true person of a video whose faces
    are with two influencers or more there (two shots, two looks)."""
    where: dict[tuple[str, str], set[str]] = {}
    for f in store.scroll():
        r = f.record
        name = people.get(r.person_key, "")
        if r.influencer_id and not r.reference and not r.copy and name and not name.startswith("~"):
            where.setdefault((r.video_id, name), set()).add(r.influencer_id)
    return sorted(k for k, v in where.items() if len(v) > 1)


def answer_other(code: Path, work: Path, people: dict[tuple[str, int], str], band: float | None) -> list[dict]:
    """Another checkout's queue (today's: no probability, no floor): the items answered."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    argv = [sys.executable, "-c", OTHER, str(work), str(MAX_ANSWERS), *([str(band)] if band is not None else [])]
    reply = subprocess.run(argv, input=json.dumps({json.dumps(list(k)): v for k, v in people.items()}), text=True,
                           capture_output=True, env=env, cwd=code, check=True)
    return [json.loads(line) for line in reply.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True, help="a finished `influencers run` on --corpus")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--code", type=Path, help="answer this checkout's queue instead (today's: the main checkout)")
    ap.add_argument("--floor", type=float, default=Settings().review_floor)
    ap.add_argument("--band", type=float, help="the review band (default: the checkout's settings)")
    ap.add_argument("--quiet", action="store_true", help="no line per item")
    ap.add_argument("--weights", type=Path, help="the pair model's weights from this file (tools/fit_review_model.py "
                    "--out), e.g. a model fitted without the corpus's people; default: the package's")
    ap.add_argument("--small", nargs=2, type=float, metavar=("VIDEOS", "LEAST"),
                    help="then also ask each influencer in at most VIDEOS videos, untouched by answers, about its most "
                         "likely pair when at least LEAST likely (review.small_influencer_items; docs/review.md)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file (bench/review_heldout.py)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="review-queue-") as tmp:
        work = Path(tmp) / "data"
        shutil.copytree(args.data_dir, work, ignore=shutil.ignore_patterns("tmp", "report"))
        store = open_face_store(Settings.from_env(data_dir=work, qdrant_url=""))
        try:
            truth = label(store, work, args.corpus)
            before = found(truth.influencers, store.hidden())
            splits_before = video_splits(store, truth.people)
        finally:
            store.close()
        if args.code:
            done, left = answer_other(args.code.resolve(), work, truth.people, args.band), []
        else:
            done, left = answer_ours(work, truth.people, args.floor, Settings().review_band if args.band is None
                                     else args.band, load_weights(args.weights) if args.weights else None,
                                     (int(args.small[0]), args.small[1]) if args.small else None)
        store = open_face_store(Settings.from_env(data_dir=work, qdrant_url=""))
        try:
            after = found(influencers_of(store, truth.people), store.hidden())
            splits_after = video_splits(store, truth.people)
        finally:
            store.close()
    videos = videos_of(args.data_dir)
    same = sum(d["answer"] == "same" for d in done)
    print(f"queue of {args.code or 'this checkout'} on {args.corpus} ({videos} videos)"
          + ("" if args.code else f", floor {args.floor:.2f}"))
    if not args.quiet:
        for k, d in enumerate(done, 1):
            p = "" if d["probability"] is None else f"p={d['probability']:.3f} "
            print(f"  {k:3d}. {d['answer']:<9} {p}d={d['distance']:.3f} {d['reason']:<27} "
                  f"{d['name_a']} / {d['name_b']}")
    print(f"items answered: {len(done)}; same: {same} ({same / len(done) if done else 0:.0%}); "
          f"answers per 100 videos: {100 * len(done) / max(videos, 1):.1f}")
    if not args.code:
        print(f"left under the floor: {len(left)}, of which truly same: {sum(x['same'] for x in left)}"
              + "".join(f"\n    p={x['probability']:.3f} {x['name_a']} / {x['name_b']}" for x in left if x["same"]))
    for when, (shown, people, split) in (("before", before), ("after", after)):
        print(f"{when}: {shown} influencers for {people} true people found"
              + (f"; split: {', '.join(split)}" if split else "; one influencer per person"))
    print(f"split inside one video: {len(splits_before)} before"
          + "".join(f"\n    {v} {n}" for v, n in splits_before) + f"; {len(splits_after)} after")
    if args.json:
        args.json.write_text(json.dumps({
            "videos": videos, "items": len(done), "same": same, "answered": done, "left": len(left),
            "left_same": sum(x["same"] for x in left), "before": list(before), "after": list(after),
            "video_splits_before": splits_before, "video_splits_after": splits_after}, default=list))


if __name__ == "__main__":
    main()
