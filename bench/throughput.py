"""Throughput benchmark: our pipeline through the real services, against the OpenCV decode floor and the
naive face_recognition script, with peak memory and identity quality; optionally the incremental cost of
one more video when the face store already holds many faces.

    .venv/bin/python bench/throughput.py [--corpus DIR] [--naive-sample N] [--store-size N]

Prints a table and writes bench/out/throughput.json. The machine should be otherwise idle: every figure
is a wall time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import psutil
from throughput_memory import GIB
from throughput_ours import run_pipeline
from throughput_store import run_incremental
from throughput_table import (
    incremental_lines,
    pipeline_lines,
    section,
    stage_lines,
    target_lines,
    targets,
    user_lines,
    yardstick_lines,
)
from throughput_user import run_as_user
from throughput_yardsticks import decode_floor, naive_sample, spread_sample

from services.ingest.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpus"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPORA / "dev", help="folder with manifest.csv (and truth.csv)")
    p.add_argument("--naive-sample", type=int, default=20, help="videos the naive approach runs on")
    p.add_argument("--store-size", type=int, default=0, help="synthetic faces prefilled for the incremental check")
    p.add_argument("--incremental-corpus", type=Path, default=CORPORA / "smoke")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "throughput.json")
    return p.parse_args(argv)


def unique_videos(manifest: Path) -> list[Path]:
    """The manifest's local video files, each once, in manifest order (what the pipeline decodes)."""
    seen: dict[Path, None] = {}
    for row in read_manifest(manifest):
        path = (manifest.parent / row.url).resolve()
        if not row.error and path.is_file():
            seen.setdefault(path, None)
    return list(seen)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def run_meta(args: argparse.Namespace) -> dict[str, object]:
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "python": platform.python_version(),
        "cpus": os.cpu_count(), "memory_gib": psutil.virtual_memory().total / GIB,
        "load_average_at_start": os.getloadavg(), "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_changed_files": len(_git("status", "--porcelain", "--untracked-files=no").splitlines()),
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def write_json(path: Path, figures: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # face_recognition_models warns on import, in every worker process the services spawn.
    os.environ.setdefault("PYTHONWARNINGS", "ignore:pkg_resources is deprecated:UserWarning")
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    meta = run_meta(args)
    figures: dict[str, object] = {"meta": meta}
    manifest = args.corpus.resolve() / "manifest.csv"

    user = run_as_user(manifest)
    figures["user_run"] = user.as_json()

    ours = run_pipeline(manifest, "ours")
    section(f"Our pipeline on {args.corpus}", pipeline_lines(ours))
    section("Time by stage", stage_lines(ours))
    figures["ours"] = ours.as_json()

    videos = unique_videos(manifest)
    floor = decode_floor(videos)
    naive = naive_sample(spread_sample(videos, args.naive_sample), floor.durations, floor.video_seconds)
    section("Yardsticks", yardstick_lines(floor, naive))
    section("`influencers run` as a user runs it (a subprocess, start-up to report)", user_lines(user, floor))
    section("Targets", target_lines(ours, floor, naive))
    figures.update(floor=floor.as_json(), naive=asdict(naive), targets=targets(ours, floor, naive))

    if args.store_size > 0:
        inc = run_incremental(args.incremental_corpus.resolve() / "manifest.csv", args.store_size)
        section(f"Incremental cost: {args.incremental_corpus}, empty store vs {args.store_size} faces",
                incremental_lines(inc))
        figures["incremental"] = inc.as_json()

    meta["load_average_at_end"] = os.getloadavg()
    write_json(args.out, figures)
    print(f"\nfigures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
