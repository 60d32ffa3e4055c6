"""The "same person?" queue on people the pair model has not seen (issue 20): builds labelled corpora with
../shared/tools/make_corpus.py (it needs an ffmpeg binary: `apt-get install ffmpeg`), runs each through the
system, fits the pair model WITHOUT the corpus's people (tools/fit_review_model.py --hold-out, what a sealed
corpus of other people is) and answers the queue with bench/review_queue.py, with that model and with the
shipped one. Prints a markdown table: items answered, share "same", answers per 100 videos, influencers vs
true people before and after, and people split inside one video (two influencers for one person in one
video, two shots with two looks) and whether the queue offered that pair.

Everything lands under --work (default /tmp/heldout, never inside the repository): the corpora
(corpus-NAME/), their runs (data-NAME/), the training runs of the dev corpus (data-dev/ and data-strict/, the
default and the strict thresholds, as docs/review.md fits the shipped model on), the held-out weights
(weights-NAME.py), the photos' encodings (photos.npz, of the runs' encoder: tools/fit_review_model.py refuses
one of another) and each answer's figures (NAME-MODEL.json). What exists is reused: delete it to rebuild.
Building a 100-video corpus takes ~10 min and running it ~5 min on a loaded 2-core machine; one thing runs
at a time.

    .venv/bin/python bench/review_heldout.py [--work /tmp/heldout] [--only a,b] [--videos 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Corpus:
    """A corpus to build: make_corpus.py's people and seed, and the people the model is fitted without
    (empty: only the shipped model answers, its people seen in training but in another mix)."""

    name: str
    seed: int
    identities: tuple[str, ...]
    clips: tuple[str, ...] = ()
    strangers: tuple[str, ...] = ()
    held_out: bool = True
    videos: int | None = None  # None: --videos

    @property
    def people(self) -> tuple[str, ...]:
        return self.identities + self.clips + self.strangers


# Two disjoint groups of people withheld from the model, all the corpus's people (strangers too) withheld; a
# corpus of everyone in another mix; and one of the two people whose photos span decades, where one video's
# shots of one person can look like two (the within-video split). No choice here is tuned to the outcome:
# group a is docs/review.md's earlier 8 withheld people, group b the other photo people with most photos.
CORPORA = (
    Corpus("a", 101, ("elton_john", "jerry_seinfeld", "mindy_kaling", "ben_affleck", "george_w_bush", "joe_biden"),
           ("liveportrait_driving_d6", "sadtalker_WDA_KatieHill_000"), ("deepface_id06", "rose_leslie")),
    Corpus("b", 202, ("madonna", "tony_blair", "colin_powell", "vladimir_putin", "obama", "kit_harington",
                      "alex_lacamoire", "lin_manuel_miranda"),
           ("liveportrait_source_s13", "liveportrait_driving_d14"), ("deepface_id07",)),
    Corpus("all", 303, ("deepface_angelina", "colin_powell", "tony_blair", "vladimir_putin", "mindy_kaling",
                        "george_w_bush", "ariel_sharon", "deepface_id03", "elton_john", "jerry_seinfeld",
                        "alex_lacamoire", "deepface_id04", "ben_affleck", "obama", "madonna", "deepface_id05",
                        "kit_harington", "deepface_id02"),
           ("lin_manuel_miranda", "liveportrait_driving_d10", "sadtalker_WDA_KatieHill_000",
            "liveportrait_source_s18", "liveportrait_driving_d6", "liveportrait_source_s13",
            "sadtalker_WDA_AlexandriaOcasioCortez_000", "liveportrait_driving_d14"),
           ("deepface_id06", "joe_biden", "deepface_id07", "rose_leslie"), held_out=False),
    Corpus("decades", 404, ("madonna", "elton_john"), videos=40),
)
STRICT = {"INFLUENCERS_CLUSTER_THRESHOLD": "0.5", "INFLUENCERS_MATCH_THRESHOLD": "0.45"}


def sh(argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Runs argv from the repository's root with its output in `log`; fails loudly, naming the log."""
    print(f"  $ {' '.join(argv)}  (log: {log})", flush=True)
    with log.open("w") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}; see {log}")


def build(c: Corpus, out: Path, videos: int, src: Path, work: Path) -> None:
    """make_corpus.py into `out`, unless already there."""
    if (out / "truth.csv").exists():
        return
    if shutil.which("ffmpeg") is None:
        raise SystemExit("building a corpus needs an ffmpeg binary with libx264: apt-get install ffmpeg")
    if out.exists():
        shutil.rmtree(out)  # half built
    sh([sys.executable, str(SHARED / "tools" / "make_corpus.py"), "--src", str(src), "--out", str(out),
        "--videos", str(c.videos or videos), "--seed", str(c.seed), "--identities", ",".join(c.identities),
        "--clips", ",".join(c.clips), "--strangers", ",".join(c.strangers)], work / f"build-{c.name}.log")


def run(corpus: Path, data: Path, log: Path, env: dict[str, str] | None = None) -> None:
    """`influencers run` of a corpus into `data`, unless finished there before (its report exists)."""
    if (data / "report").exists():
        return
    if data.exists():
        shutil.rmtree(data)  # half run
    sh([sys.executable, "-m", "influencers", "run", str(corpus / "manifest.csv"), "--no-serve", "--data-dir",
        str(data), "--metrics-port", "0"], log, env)


def answer(name: str, data: Path, corpus: Path, weights: Path | None, work: Path) -> dict:
    """bench/review_queue.py on a run: its figures (see there)."""
    tag = f"{name}-{'heldout' if weights else 'shipped'}"
    out = work / f"{tag}.json"
    sh([sys.executable, str(ROOT / "bench" / "review_queue.py"), "--data-dir", str(data), "--corpus", str(corpus),
        "--json", str(out), *(["--weights", str(weights)] if weights else [])], work / f"{tag}.log")
    return json.loads(out.read_text())


def row(name: str, model: str, r: dict) -> str:
    """One markdown row of the table."""
    items, same, videos = r["items"], r["same"], r["videos"]
    share = f"{same / items:.0%}" if items else "—"

    def people(f: list) -> str:
        return f"{f[0]} for {f[1]}" + (f" ({', '.join(f[2])} split)" if f[2] else "")

    offered = sum(1 for d in r["answered"] if d["one_video"] and d["answer"] == "same")
    return (f"| {name} ({videos} videos) | {model} | {items} | {same} | {share} | {100 * items / max(videos, 1):.1f} | "
            f"{people(r['before'])} | {people(r['after'])} | {r['left']} ({r['left_same']}) | "
            f"{len(r['video_splits_before'])} / {offered} / {len(r['video_splits_after'])} |")


HEADER = ("| corpus | model | items | same | share same | answers / 100 videos | influencers for people before | "
          "after | left under the floor (same) | split in one video: before / offered / after |\n"
          "|---|---|---:|---:|---:|---:|---|---|---:|---|")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/heldout"), help="where everything is built and run")
    ap.add_argument("--src", type=Path, default=SHARED / "corpus", help="photos/ and clips/ for make_corpus.py")
    ap.add_argument("--dev", type=Path, default=SHARED / "corpus" / "dev", help="the corpus the model is fitted on")
    ap.add_argument("--videos", type=int, default=100, help="videos per corpus")
    ap.add_argument("--only", default="", help="comma-separated corpus names (default all: "
                    + ",".join(c.name for c in CORPORA) + ")")
    args = ap.parse_args(argv)
    work = args.work.resolve()
    if work == ROOT or ROOT in work.parents:
        raise SystemExit(f"--work {work}: keep corpora and runs out of the repository")
    work.mkdir(parents=True, exist_ok=True)
    wanted = [c for c in CORPORA if not args.only or c.name in args.only.split(",")]
    if not wanted:
        raise SystemExit(f"--only {args.only}: no such corpus (have {', '.join(c.name for c in CORPORA)})")
    dev, strict = work / "data-dev", work / "data-strict"
    if any(c.held_out for c in wanted):
        print("training runs of the dev corpus", flush=True)
        run(args.dev, dev, work / "run-dev.log")
        run(args.dev, strict, work / "run-strict.log", STRICT)
    rows = []
    for c in wanted:
        print(f"corpus {c.name}", flush=True)
        corpus, data = work / f"corpus-{c.name}", work / f"data-{c.name}"
        build(c, corpus, args.videos, args.src, work)
        run(corpus, data, work / f"run-{c.name}.log")
        rows.append(row(c.name, "shipped", answer(c.name, data, corpus, None, work)))
        if c.held_out:
            weights = work / f"weights-{c.name}.py"
            sh([sys.executable, str(ROOT / "tools" / "fit_review_model.py"), "--run", str(dev), str(args.dev),
                "--run", str(strict), str(args.dev), "--cache", str(work / "photos.npz"), "--hold-out",
                ",".join(c.people), "--out", str(weights)], work / f"fit-{c.name}.log")
            rows.append(row(c.name, "fitted without its people", answer(c.name, data, corpus, weights, work)))
        print(HEADER + "\n" + "\n".join(rows), flush=True)


if __name__ == "__main__":
    main()
