"""Overhead of metrics and tracing: `influencers run --no-serve` on the same manifest with both off and both on,
side by side in one run (alternating, off-on-on-off, so that a machine getting busier or calmer weighs on
both alike), printing each wall time and the ratio of the means (issue 19's target: at most 1.03).

    .venv/bin/python bench/observability.py [--manifest CSV] [--limit N] [--rounds R] [--workers W]
                                            [--tree] [--spans FILE]

Off: INFLUENCERS_METRICS_PORT=0 and no OTEL_* variable. On: INFLUENCERS_METRICS_PORT at a free port and
OTEL_EXPORTER_OTLP_ENDPOINT at a tiny OTLP/HTTP sink this script serves, which decodes each POST and counts
the spans (and keeps them: --tree prints one video's trace as a tree, --spans writes every span as JSON
lines). Each run gets a fresh data dir. Default manifest: the dev corpus (../shared/corpus/dev). The machine
should be otherwise idle: every figure is a wall time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.otlp_sink import SpanSink, span_tree  # noqa: E402

DEV = ROOT.parent / "shared" / "corpus" / "dev" / "manifest.csv"


def limited_manifest(manifest: Path, limit: int | None, out: Path) -> int:
    """The first `limit` rows of `manifest` (all when None) with absolute paths, written to `out`; the rows."""
    with open(manifest, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:][:limit] if limit else rows[1:]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for perf, url in body:
            w.writerow([perf, url if "://" in url else str((manifest.parent / url).resolve())])
    return len(body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(on: bool, sink: SpanSink) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["INFLUENCERS_METRICS_PORT"] = str(free_port()) if on else "0"
    if on:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    return env


def one_run(manifest: Path, on: bool, sink: SpanSink, workers: int | None) -> tuple[float, list[dict]]:
    """Wall seconds of one `influencers run --no-serve` in a fresh data dir, and the spans it sent."""
    with tempfile.TemporaryDirectory(prefix="obs-bench-") as tmp:
        command = [sys.executable, "-m", "influencers", "run", str(manifest), "--no-serve", "--data-dir",
                   f"{tmp}/data", "--report", f"{tmp}/report", "--ingest-port", "0", "--identity-port", "0",
                   "--analytics-port", "0"] + (["--workers", str(workers)] if workers else [])
        sink.take()
        t0 = time.perf_counter()
        done = subprocess.run(command, env=environment(on, sink), cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"run ({'on' if on else 'off'}) exited {done.returncode}:\n{done.stderr[-3000:]}")
        return wall, sink.take()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEV, help="manifest CSV (default: the dev corpus)")
    parser.add_argument("--limit", type=int, help="only its first N rows (a quick figure)")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs (default 2: off on on off)")
    parser.add_argument("--workers", type=int, help="face-analysis processes (default: one per core)")
    parser.add_argument("--tree", action="store_true", help="print one video's trace as a span tree")
    parser.add_argument("--spans", type=Path, help="write every span received as JSON lines to this file")
    args = parser.parse_args()
    if not args.manifest.is_file():
        sys.exit(f"manifest {args.manifest} not found")
    if args.limit is not None and args.limit < 1:
        sys.exit(f"--limit {args.limit}: at least 1")
    if args.rounds < 1:
        sys.exit(f"--rounds {args.rounds}: at least 1")
    sink = SpanSink()
    walls: dict[bool, list[float]] = {False: [], True: []}
    received: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="obs-manifest-") as tmp:
        manifest = Path(tmp) / "manifest.csv"
        rows = limited_manifest(args.manifest, args.limit, manifest)
        print(f"{rows} videos of {args.manifest}, {args.rounds} round(s) of off/on", flush=True)
        order = [k % 2 == 1 for k in range(2 * args.rounds)]  # off on, then on off, ...: ABBA
        order = [x if (k // 2) % 2 == 0 else not x for k, x in enumerate(order)]
        for on in order:
            wall, spans = one_run(manifest, on, sink, args.workers)
            walls[on].append(wall)
            videos = len({s["trace_id"] for s in spans if s["name"] == "video"})
            print(f"  {'on ' if on else 'off'}  {wall:8.1f} s" + (f"  {len(spans)} spans, {videos} video traces"
                                                                  if on else ""), flush=True)
            received += spans
    sink.close()
    off, on = statistics.mean(walls[False]), statistics.mean(walls[True])
    print(f"off: mean {off:.1f} s ({', '.join(f'{w:.1f}' for w in walls[False])})")
    print(f"on:  mean {on:.1f} s ({', '.join(f'{w:.1f}' for w in walls[True])})")
    print(f"ratio on/off: {on / off:.3f} (target <= 1.03)")
    if args.spans:
        args.spans.write_text("".join(json.dumps(s) + "\n" for s in received))
    if args.tree:
        video = next((s for s in received if s["name"] == "video" and not s["error"]), None)
        if video is not None:
            print("\none video's trace:")
            print("\n".join(span_tree(received, video["trace_id"])))


if __name__ == "__main__":
    main()
