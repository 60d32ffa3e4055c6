"""With INFLUENCERS_LOG_FORMAT=json every line the CLI writes on stderr is a JSON log record, its final error
too (a log shipper parses each line); with text logs the error stays the one plain line `influencers: error:`."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = {f"INFLUENCERS_{name}_PORT": "0" for name in ("INGEST", "IDENTITY", "ANALYTICS", "WEB", "METRICS")}


def a_closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def influencers(*args: str, log_format: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    return subprocess.run([sys.executable, "-m", "influencers", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, **FREE_PORTS, "INFLUENCERS_LOG_FORMAT": log_format, **(env or {})},
                          timeout=120)


def failing_commands(tmp_path: Path) -> list[tuple[list[str], dict[str, str], int, str]]:
    """(arguments, environment, exit code, words of the error) of failures that take each of main()'s ways out."""
    (tmp_path / "file").write_text("x")
    port = a_closed_port()
    closed = {f"INFLUENCERS_{name}_PORT": port for name in ("INGEST", "IDENTITY", "ANALYTICS")}
    return [
        (["run", str(tmp_path / "missing.csv"), "--no-serve", "--data-dir", str(tmp_path / "d")], {}, 2,
         "missing.csv"),
        (["eval", "--data-dir", str(tmp_path), "--truth", str(tmp_path / "nope")], {}, 2, "holds no truth.csv"),
        (["jobs"], closed, 1, "is not answering"),
        (["no-such-command"], {}, 2, "no-such-command"),
    ]


def test_in_json_mode_the_final_error_is_a_json_log_record_like_every_other_line(tmp_path):
    # Before, the last line was `influencers: error: ...` in plain text among the JSON lines.
    for args, env, code, words in failing_commands(tmp_path):
        result = influencers(*args, log_format="json", env=env)
        assert result.returncode == code, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        records = [json.loads(line) for line in lines]  # every line parses
        last = records[-1]
        assert last["level"] == "error" and last["logger"] == "influencers.cli", (args, last)
        assert words in last["event"] and not last["event"].startswith("influencers: error:"), (args, last)


@pytest.mark.parametrize("log_format", ["text", ""])
def test_in_text_mode_the_final_error_stays_one_plain_line(tmp_path, log_format):
    for args, env, code, words in failing_commands(tmp_path):
        result = influencers(*args, log_format=log_format, env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == code and len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("influencers: error: ") and words in lines[0], (args, lines)
