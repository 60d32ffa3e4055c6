"""INFLUENCERS_HOST (--host) an IPv6 address: `influencers serve --host ::1` binds every service and the page there,
and a client command given the same --host reaches them. Before, HOST:PORT was joined as `::1:0`, which gRPC reads
as an address without a port: the start failed with "analytics: cannot bind ::1:0 (in use? ...)", exit 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_serve_on_an_ipv6_host_starts_and_a_command_given_that_host_reaches_it(tmp_path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env = {**clean, "INFLUENCERS_HOST": "::1", "INFLUENCERS_METRICS_PORT": "0", "INFLUENCERS_WEB_PORT": "0",
           "INFLUENCERS_INGEST_PORT": "0", "INFLUENCERS_IDENTITY_PORT": "0", "INFLUENCERS_ANALYTICS_PORT": "0"}
    server = subprocess.Popen([sys.executable, "-m", "influencers", "serve", "--data-dir", str(tmp_path / "d")],
                              cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started = server.stdout.readline()  # type: ignore[union-attr]
        assert started.startswith("ingest [::1]:"), (started, server.stderr.read() if server.poll() else "")  # type: ignore[union-attr]
        ingest_port = started.split()[1].rsplit(":", 1)[1]
        assert "page http://[::1]:" in started
        done = subprocess.run([sys.executable, "-m", "influencers", "jobs", "--host", "::1", "--ingest-port",
                               ingest_port], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout.strip()) == (0, "no ingest jobs yet (start one: influencers ingest "
                                                             "MANIFEST)"), done.stderr
    finally:
        server.terminate()
        server.wait(60)
