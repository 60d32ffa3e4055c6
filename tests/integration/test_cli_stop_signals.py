"""A signal while `influencers serve` or `run` starts its services: the real CLI as a subprocess on a fresh data
dir, sent the signal once analytics serves (identity and ingest still to start: seconds). SIGTERM is a
supervisor's stop, not a Ctrl-C: services being started stop with 0, as they do once serving; a command with a
job exits 143 (128 + SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = {f"INFLUENCERS_{name}_PORT": "0" for name in ("INGEST", "IDENTITY", "ANALYTICS", "WEB", "METRICS")}
STARTING = "analytics serving on"  # the first service is up, the others are still to start


def stopped_while_starting(args: list[str], how: signal.Signals) -> tuple[int, str, str]:
    """Runs `influencers ARGS` (INFO logs), sends `how` once analytics serves; its exit code, stdout and stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    process = subprocess.Popen([sys.executable, "-m", "influencers", *args], cwd=ROOT, text=True,
                               env={**clean, **FREE_PORTS, "INFLUENCERS_LOG_LEVEL": "INFO"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a terminal's
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    err: list[str] = []
    try:
        for line in process.stderr:  # type: ignore[union-attr]
            err.append(line)
            if STARTING in line:
                process.send_signal(how)
                break
        err.append(process.stderr.read())  # type: ignore[union-attr]
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    return code, "".join(out), "".join(err)


@pytest.mark.parametrize(("how", "by"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")],
                         ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_while_serve_starts_stops_it_with_0_saying_so_not_to_run_it_again(tmp_path, how, by) -> None:
    # Before: exit 130 and "interrupted: what was recorded is kept; run the same command again to resume", as if a
    # job had been cut short; a supervisor stopping a service that had not finished starting read a failure.
    code, out, err = stopped_while_starting(["serve", "--data-dir", str(tmp_path / "d")], how)
    assert STARTING in err, err
    assert "page http" not in out, out  # stopped while starting, not once it served
    assert code == 0, err
    assert err.rstrip().endswith(f"influencers.cli: stopped by {by} while starting"), err
    assert "Traceback" not in err and "run the same command again" not in err, err


def test_sigterm_while_run_starts_exits_143_and_says_the_same_command_resumes(tmp_path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("Performance,Video URL\n1.0,a.mp4\n")
    code, out, err = stopped_while_starting(["run", str(manifest), "--no-serve", "--data-dir", str(tmp_path / "d")],
                                            signal.SIGTERM)
    assert STARTING in err, err
    assert "report written" not in out, out
    assert code == 143, err
    said = "stopped by SIGTERM: what was recorded is kept; run the same command again to resume"
    assert err.rstrip().endswith(said), err
    assert "Traceback" not in err, err
