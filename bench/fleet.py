"""The fleet on one machine against one process, on a labelled corpus (default: dev, 200 videos).

    .venv/bin/python bench/fleet.py [--corpus DIR] [--kill-at 0.3] [--no-baseline]

Fleet: a throwaway PostgreSQL server, 1 identity, 2 analytics and 2 ingest replicas, each its own process
(`influencers service NAME`). The manifest is submitted to ingest-1 (`influencers ingest --detach`); when
`--kill-at` of its rows are done, ingest-1 and the analytics replica applying identity's feed are SIGKILLed;
the job is followed to its end through ingest-2 (`influencers jobs JOB`), then exported from PostgreSQL
(`influencers export`, `influencers eval`). Baseline: `influencers run --no-serve` on a fresh data dir.
Prints wall times, the failover, people and B-cubed F1 of both, and checks every manifest row is in
videos.csv exactly once. Writes bench/out/fleet.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.fleet import INFLUENCERS, Fleet  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpus"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=CORPORA / "dev", help="folder with manifest.csv and truth.csv")
    p.add_argument("--kill-at", type=float, default=0.3, help="share of rows done when the kills happen (0: none)")
    p.add_argument("--no-baseline", action="store_true", help="skip the one-process run")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "fleet.json")
    return p.parse_args(argv)


def eval_line(env: dict[str, str], data_dir: Path, truth: Path) -> str:
    done = subprocess.run([*INFLUENCERS, "eval", "--data-dir", str(data_dir), "--truth", str(truth)], env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def rows_once(export: Path, manifest: Path) -> tuple[int, int, list[str]]:
    """(manifest rows, videos.csv rows, manifest URLs not in videos.csv exactly as often as the manifest
    gives them). A URL given on several rows has that many rows in the report (the later ones duplicates),
    in one process as in the fleet."""
    with manifest.open(newline="", encoding="utf-8-sig") as f:
        urls = [{k.strip().lower(): v for k, v in r.items()}["video url"] for r in csv.DictReader(f)]
    with (export / "videos.csv").open(newline="", encoding="utf-8") as f:
        seen = [r["video_url"] for r in csv.DictReader(f)]
    return len(urls), len(seen), sorted(u for u in set(urls) if seen.count(u) != urls.count(u))


def run_fleet(corpus: Path, kill_at: float, root: Path) -> dict[str, object]:
    manifest = corpus / "manifest.csv"
    with running_postgres() as pg:
        fleet = Fleet(root, pg.new_database())
        try:
            t0 = time.monotonic()
            fleet.start()
            started = time.monotonic() - t0
            submitted = fleet.cli("ingest-1", "ingest", str(manifest), "--detach", timeout_s=120)
            if submitted.returncode != 0:
                raise RuntimeError(f"ingest --detach: {submitted.stderr[-2000:]}")
            job = submitted.stdout.strip().splitlines()[-1]
            kills: dict[str, float] = {}
            if kill_at > 0:
                while True:
                    done, total = fleet.job_progress("ingest-2", job)
                    if done >= kill_at * total:
                        break
                    time.sleep(0.5)
                leader = fleet.feed_leader(pg) or "analytics-1"
                fleet.replicas["ingest-1"].kill()
                fleet.replicas[leader].kill()
                kills = {"ingest-1": time.monotonic() - t0, leader: time.monotonic() - t0}
                failover_start = time.monotonic()
                other = "analytics-2" if leader == "analytics-1" else "analytics-1"
                while fleet.feed_leader(pg) != other and time.monotonic() - failover_start < 60:
                    time.sleep(0.2)
                kills["failover_s"] = time.monotonic() - failover_start
            followed = fleet.cli("ingest-2", "jobs", job)
            wall = time.monotonic() - t0
            out = root / "export"
            exported = fleet.cli("ingest-2", "export", "--out", str(out), "--data-dir", str(root / "ingest-2"))
            env = fleet.env_for("ingest-2")
            quality = eval_line(env, root / "ingest-2", corpus)
            manifest_rows, video_rows, not_once = rows_once(out, manifest)
            return {"wall_s": wall, "start_s": started, "kills": kills, "job": job,
                    "jobs_exit": followed.returncode, "jobs_tail": followed.stdout[-500:],
                    "export_exit": exported.returncode, "eval": quality, "manifest_rows": manifest_rows,
                    "videos_csv_rows": video_rows, "rows_not_exactly_once": not_once[:20]}
        finally:
            fleet.stop()


def run_baseline(corpus: Path, root: Path) -> dict[str, object]:
    data = root / "one-process"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env["INFLUENCERS_METRICS_PORT"] = "0"
    t0 = time.monotonic()
    subprocess.run([*INFLUENCERS, "run", str(corpus / "manifest.csv"), "--data-dir", str(data), "--no-serve",
                    "--ingest-port", "0", "--identity-port", "0", "--analytics-port", "0", "--web-port", "0"],
                   env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    return {"wall_s": wall, "eval": eval_line(env, data, corpus)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = args.corpus.resolve()
    with tempfile.TemporaryDirectory(prefix="influencers-fleet-") as tmp:
        figures: dict[str, object] = {"corpus": str(corpus), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                      "load_at_start": os.getloadavg()}
        figures["fleet"] = fleet = run_fleet(corpus, args.kill_at, Path(tmp) / "fleet")
        print(f"fleet: {fleet['wall_s']:.1f} s wall (start {fleet['start_s']:.1f} s), kills {fleet['kills']}, "
              f"jobs exit {fleet['jobs_exit']}\n  {fleet['eval']}\n  manifest rows {fleet['manifest_rows']}, "
              f"videos.csv rows {fleet['videos_csv_rows']}, not exactly once: {fleet['rows_not_exactly_once']}")
        if not args.no_baseline:
            figures["baseline"] = base = run_baseline(corpus, Path(tmp))
            ratio = fleet["wall_s"] / base["wall_s"]  # type: ignore[operator]
            figures["ratio"] = ratio
            print(f"one process: {base['wall_s']:.1f} s wall\n  {base['eval']}\nfleet / one process: {ratio:.2f}x")
        figures["load_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
