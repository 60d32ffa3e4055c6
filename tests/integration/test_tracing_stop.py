"""`influencers serve` with the OTLP variables set: the page's requests are traced, and a SIGTERM sends the
spans still queued before the process ends (the batch delay is set far beyond the test's length)."""

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.otlp_sink import SpanSink

ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = {f"INFLUENCERS_{name}_PORT": "0" for name in ("INGEST", "IDENTITY", "ANALYTICS", "WEB", "METRICS")}


def test_serve_stopped_by_sigterm_sends_its_queued_spans_of_the_page_first(tmp_path):
    sink = SpanSink()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCERS_", "OTEL_"))}
    env = {**clean, **FREE_PORTS, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    server = subprocess.Popen([sys.executable, "-m", "influencers", "serve", "--data-dir", str(tmp_path / "d"),
                               "--workers", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        started = server.stdout.readline()
        page = re.search(r"page (http://\S+)", started)
        assert page, started + server.stderr.read()
        with urllib.request.urlopen(page.group(1) + "videos", timeout=60) as answer:
            assert answer.status == 200
        assert sink.take() == [], "nothing is sent before the batch delay or a stop"
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
        spans = sink.take()
        assert any(s["service"] == "influencers-analytics" and s["name"] == "GET /videos" for s in spans), spans
    finally:
        server.kill()
        server.wait(10)
        sink.close()


@pytest.mark.parametrize(("variable", "value"), [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                                                  ("INFLUENCERS_LOG_FORMAT", "xml")])
def test_serve_refuses_a_bad_tracing_or_log_variable_in_one_line_naming_it(tmp_path, variable, value):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCERS_", "OTEL_"))}
    env = {**clean, **FREE_PORTS, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", variable: value}
    result = subprocess.run([sys.executable, "-m", "influencers", "serve", "--data-dir", str(tmp_path / "d")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("influencers: error: ") and variable in lines[0]
