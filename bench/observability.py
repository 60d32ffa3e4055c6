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
import gzip
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "corpus" / "dev" / "manifest.csv"


class SpanSink:
    """An OTLP/HTTP receiver on loopback: accepts POST /v1/traces (protobuf, gzip or not), keeps the spans."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.posts = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                sink.add(request)
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True).start()

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._lock:
            self.posts += 1
            for resource_spans in request.resource_spans:
                service = next((a.value.string_value for a in resource_spans.resource.attributes
                                if a.key == "service.name"), "")
                for scope in resource_spans.scope_spans:
                    for s in scope.spans:
                        self.spans.append({
                            "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                            "parent_id": s.parent_span_id.hex(), "name": s.name, "service": service,
                            "start_ns": s.start_time_unix_nano, "end_ns": s.end_time_unix_nano,
                            "error": s.status.code == s.status.STATUS_CODE_ERROR,
                            "attributes": {a.key: _value(a.value) for a in s.attributes}})

    def take(self) -> list[dict]:
        with self._lock:
            spans, self.spans = self.spans, []
            return spans

    def close(self) -> None:
        self._server.shutdown()


def _value(v: object) -> object:
    kind = v.WhichOneof("value")  # type: ignore[attr-defined]
    return getattr(v, kind) if kind else None


def span_tree(spans: list[dict], trace_id: str) -> list[str]:
    """The spans of one trace as indented lines: `name  [service]  ms  attributes`, children by start time."""
    mine = [s for s in spans if s["trace_id"] == trace_id]
    ids = {s["span_id"] for s in mine}
    children: dict[str, list[dict]] = {}
    for s in mine:
        children.setdefault(s["parent_id"] if s["parent_id"] in ids else "", []).append(s)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda x: x["start_ns"]):
            ms = (s["end_ns"] - s["start_ns"]) / 1e6
            attrs = {k.removeprefix("influencers."): v for k, v in s["attributes"].items()
                     if k.startswith("influencers.") or k == "rpc.grpc.status_code"}
            shown = " ".join(f"{k}={v}" for k, v in attrs.items())
            lines.append(f"{'  ' * depth}{s['name']}  [{s['service']}]  {ms:.1f} ms"
                         + ("  ERROR" if s["error"] else "") + (f"  {shown}" if shown else ""))
            walk(s["span_id"], depth + 1)

    walk("", 0)
    return lines


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
