"""`influencers --version`, every `--help` and a usage error answer at once: they import none of the heavy modules a
command needs (grpc and its stubs, SQLAlchemy, numpy, pandas, PyAV, dlib, Flask), which took `--version` 2 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from influencers.cli import build_parser
from influencers.cli.parser import ANSWER_WORDS
from services.common.clients import REVIEW_ANSWERS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("grpc", "influencers.v1", "sqlalchemy", "numpy", "pandas", "av", "dlib", "flask", "qdrant_edge", "cv2",
         "prometheus_client", "opentelemetry", "tqdm", "structlog")
# Runs the CLI on each argument list in one process, then prints the heavy modules it imported
PROBE = """
import json, sys
from influencers.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = json.loads(sys.argv[2])
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))),
      file=sys.stderr)
"""


def heavy_modules_imported_by(*argvs: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argvs), json.dumps(HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


def commands() -> list[list[str]]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    found = [[name] for name in sub.choices if name != "service"]  # type: ignore[union-attr]
    return found + [["service", name] for name in ("ingest", "identity", "analytics")]


def test_version_imports_none_of_the_heavy_modules_and_says_the_version() -> None:
    assert heavy_modules_imported_by(["--version"]) == []
    done = subprocess.run([sys.executable, "-m", "influencers", "--version"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("influencers ") and done.stderr == ""


def test_the_help_of_every_command_imports_none_of_the_heavy_modules() -> None:
    helps = [["--help"], *([*command, "--help"] for command in commands())]
    assert len(helps) > 20
    assert heavy_modules_imported_by(*helps) == []


def test_the_answer_words_the_parser_takes_are_those_the_services_know() -> None:
    assert tuple(REVIEW_ANSWERS) == ANSWER_WORDS


def test_version_to_a_reader_gone_says_nothing_and_to_a_full_disk_says_one_line() -> None:
    # Both printed a traceback: `influencers --version | true` (BrokenPipeError), `> /dev/full` (ENOSPC)
    read, write = os.pipe()
    os.close(read)
    try:
        gone = subprocess.run([sys.executable, "-m", "influencers", "--version"], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (gone.returncode, gone.stderr) == (0, "")
    with open("/dev/full", "w") as full:
        refused = subprocess.run([sys.executable, "-m", "influencers", "--version"], cwd=ROOT, stdout=full,
                                 stderr=subprocess.PIPE, text=True, timeout=120)
    # Exit 1 as coreutils' `write error`, with no "(see influencers --help)": the command line was not wrong
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.splitlines() == [
        "influencers: error: --version: cannot write to stdout (No space left on device)"]


@pytest.mark.parametrize(("argv", "prog"), [(["--help"], "influencers"), (["jobs", "-h"], "influencers jobs"),
                                            (["service", "ingest", "--help"], "influencers service ingest")])
def test_help_to_a_full_disk_says_that_stdout_could_not_be_written_and_exits_1(argv, prog) -> None:
    # argparse drops a failed write: `influencers --help > /dev/full` printed nothing and exited 0
    with open("/dev/full", "w") as full:
        refused = subprocess.run([sys.executable, "-m", "influencers", *argv], cwd=ROOT, stdout=full,
                                 stderr=subprocess.PIPE, text=True, timeout=120)
    assert (refused.returncode, refused.stderr.splitlines()) == (
        1, [f"{prog}: error: --help: cannot write to stdout (No space left on device)"])


def test_help_to_a_reader_gone_says_nothing_and_exits_0() -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        gone = subprocess.run([sys.executable, "-m", "influencers", "--help"], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (gone.returncode, gone.stderr) == (0, "")
