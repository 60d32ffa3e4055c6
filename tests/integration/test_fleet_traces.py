"""One video's trace across a fleet of three processes (`influencers service NAME` each, their own SQLite stores),
exported over OTLP/HTTP to a local receiver (tests/support/otlp_sink.py): the W3C context travels in the gRPC
metadata from ingest to identity and analytics, and through identity's change feed to analytics' follower."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time

from tests.support.fleet import INFLUENCERS, Replica
from tests.support.otlp_sink import SpanSink, span_tree

ANALYZE = "/influencers.v1.IdentityService/AnalyzeVideo"
RECORD = "/influencers.v1.AnalyticsService/RecordVideo"


def free_port_55xxx() -> int:
    """A free port among 55000-55999 (this machine's tests keep off the services' default ports)."""
    for port in random.sample(range(55000, 56000), 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port among 55000-55999")


def fleet_of_three(root, sink: SpanSink) -> dict[str, Replica]:
    ports = {name: free_port_55xxx() for name in ("ingest", "identity", "analytics", "web")}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCERS_", "OTEL_"))}
    base.update({
        "INFLUENCERS_WORKERS": "1", "INFLUENCERS_METRICS_PORT": "0", "PYTHONUNBUFFERED": "1",
        "INFLUENCERS_INGEST_PORT": str(ports["ingest"]), "INFLUENCERS_WEB_PORT": str(ports["web"]),
        "INFLUENCERS_IDENTITY_ADDR": f"127.0.0.1:{ports['identity']}",
        "INFLUENCERS_ANALYTICS_ADDR": f"127.0.0.1:{ports['analytics']}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    })
    replicas = {}
    for service in ("identity", "analytics", "ingest"):
        env = {**base, "INFLUENCERS_DATA_DIR": str(root / service),
               f"INFLUENCERS_{service.upper()}_PORT": str(ports[service])}
        replicas[service] = Replica(service, service, ports[service], env, root / f"{service}.log")
    return replicas


def test_a_video_s_trace_has_one_id_across_the_three_processes_and_analytics_applying_its_change(corpus, tmp_path):
    smoke = corpus("smoke")
    perf, url = (smoke / "manifest.csv").read_text().splitlines()[1].split(",")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"Performance,Video URL\n{perf},{smoke / url}\n")
    sink = SpanSink()
    replicas = fleet_of_three(tmp_path, sink)
    try:
        for replica in replicas.values():
            replica.start()
        for replica in replicas.values():
            replica.wait_serving()
        client = {k: v for k, v in replicas["ingest"].env.items() if not k.startswith("OTEL_")}
        done = subprocess.run([*INFLUENCERS, "ingest", str(manifest)], env=client, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        for replica in replicas.values():  # SIGTERM: each flushes the spans it still holds
            replica.stop()
        sink.close()
    logs = "\n".join(r.log.read_text(errors="replace")[-2000:] for r in replicas.values())
    spans = sink.take()
    root = next((s for s in spans if s["name"] == "video" and not s["parent_id"]), None)
    assert root is not None, logs
    trace = [s for s in spans if s["trace_id"] == root["trace_id"]]
    tree = "\n".join(span_tree(spans, root["trace_id"]))
    by = {(s["service"], s["name"]): s for s in trace}
    assert {("influencers-ingest", ANALYZE), ("influencers-identity", ANALYZE), ("influencers-identity", "assign"),
            ("influencers-ingest", RECORD), ("influencers-analytics", RECORD),
            ("influencers-analytics", "apply")} <= by.keys(), tree
    assign, apply = by[("influencers-identity", "assign")], by[("influencers-analytics", "apply")]
    assert apply["parent_id"] == assign["span_id"], tree
    assert apply["attributes"]["influencers.feed_position"] == assign["attributes"]["influencers.feed_position"]
    ids = {s["span_id"] for s in trace}
    assert all(s["parent_id"] in ids for s in trace if s is not root), tree
    assert time.time_ns() >= apply["end_ns"] >= assign["end_ns"], "applied after identity wrote it"
