"""Ctrl-C while the command is still loading its modules: one line, exit 130, never a traceback. The console script
is made from pyproject.toml's entry point as pip makes it, and run as a subprocess; the Ctrl-C lands in an import,
held there by a stand-in on PYTHONPATH that says it was reached and waits (the real imports take a tenth of a
second: a Ctrl-C timed to land in one would miss as often as not): argparse, which the parser imports before the
command can catch anything, and grpc, which the command imports once its arguments parse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REACHED = "the held import is reached"
HELD_IMPORT = f"import sys, time\nprint({REACHED!r}, file=sys.stderr, flush=True)\ntime.sleep(60)\n"
HELD = ["argparse", "grpc"]
# What pip writes for a [project.scripts] entry (distlib's ScriptMaker template), the shebang aside.
CONSOLE_SCRIPT = """# -*- coding: utf-8 -*-
import re
import sys
from {module} import {name}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({name}())
"""


def console_script(folder: Path) -> Path:
    module, name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["influencers"].split(":")
    script = folder / "influencers"
    script.write_text(CONSOLE_SCRIPT.format(module=module, name=name))
    return script


def ctrl_c_while_loading(command: list[str], module: str, tmp_path: Path, log_format: str) -> tuple[int, list[str]]:
    """Runs `command` (`influencers jobs` its way) with the import of `module` held; sends SIGINT once it is
    reached. Returns the exit code and stderr's lines."""
    held = tmp_path / "held"
    held.mkdir()
    (held / f"{module}.py").write_text(HELD_IMPORT)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env = {**clean, "PYTHONPATH": f"{held}{os.pathsep}{ROOT}", "INFLUENCERS_LOG_FORMAT": log_format}
    process = subprocess.Popen([*command, "jobs"], cwd=tmp_path, env=env, text=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a terminal's
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.strip() == REACHED, first
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
        rest = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, [line for line in rest.splitlines() if line.strip()]


@pytest.fixture(params=["console script", "python -m influencers"])
def command(request, tmp_path) -> list[str]:
    if request.param == "console script":
        return [sys.executable, str(console_script(tmp_path))]
    return [sys.executable, "-m", "influencers"]


@pytest.mark.parametrize("module", HELD)
def test_ctrl_c_while_the_command_loads_says_one_line_and_exits_130(command, module, tmp_path) -> None:
    # Before, a KeyboardInterrupt in the parser's imports rose out of the console script: a traceback of 10 to 30
    # lines. (One in the command's imports was caught, but said in plain text among JSON logs.)
    code, lines = ctrl_c_while_loading(command, module, tmp_path, "text")
    assert (code, lines) == (130, ["influencers: interrupted"])


@pytest.mark.parametrize("module", HELD)
def test_ctrl_c_while_the_command_loads_is_a_json_record_when_logs_are_json(command, module, tmp_path) -> None:
    code, lines = ctrl_c_while_loading(command, module, tmp_path, "json")
    assert code == 130
    [record] = [json.loads(line) for line in lines]
    assert (record["event"], record["level"], record["logger"]) == ("interrupted", "warning", "influencers.cli")
    assert record["timestamp"].endswith("Z")
