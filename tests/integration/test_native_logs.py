"""gRPC's C core writes its own raw lines to stderr unless GRPC_VERBOSITY, read when grpc is imported, says NONE:
the `influencers` package sets that default before anything imports grpc, so with JSON logs every line is JSON
and a port the server cannot bind is said by our own line (a process of its own: the variable is read once)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIND_A_TAKEN_PORT = """
import logging, socket
import influencers.cli  # what the `influencers` command imports first; grpc is imported under it
from services.common.logs import configure_logging
from services.common.rpc import PortInUse, build_server

configure_logging("json", "INFO")
held = socket.socket()
held.bind(("127.0.0.1", 0))
held.listen()
try:
    build_server("analytics", "127.0.0.1", held.getsockname()[1], [])
except PortInUse as exc:
    logging.getLogger("influencers.cli").error(str(exc))
print(held.getsockname()[1])
"""


def _bind_a_taken_port(**env: str) -> tuple[int, list[str]]:
    clean = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY" and not k.startswith("INFLUENCERS_")}
    result = subprocess.run([sys.executable, "-c", BIND_A_TAKEN_PORT], capture_output=True, text=True, cwd=ROOT,
                            env={**clean, "INFLUENCERS_LOG_FORMAT": "json", **env}, timeout=60)
    assert result.returncode == 0, result.stderr
    return int(result.stdout), result.stderr.splitlines()


def test_with_json_logs_a_port_grpc_cannot_bind_is_one_json_line_of_ours_naming_port_and_setting_and_no_raw_line():
    # Before: two raw lines of gRPC's C core came first ("E1206 ... add_port.cc:83] Failed to add port to server").
    port, lines = _bind_a_taken_port()
    events = [json.loads(line) for line in lines]  # every line is JSON
    assert [e["event"] for e in events] == [
        f"analytics: cannot bind 127.0.0.1:{port} (in use? choose another with --analytics-port or "
        "INFLUENCERS_ANALYTICS_PORT)"]


def test_a_grpc_verbosity_the_operator_gives_is_kept():
    _, lines = _bind_a_taken_port(GRPC_VERBOSITY="ERROR")
    assert any("Failed to add port" in line and not line.startswith("{") for line in lines), lines
