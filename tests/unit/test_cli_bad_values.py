"""An empty path or job id is a usage error naming its argument, exit 2, before anything runs: `export --out ""`
wrote the report into the working directory, `ingest ""` read the folder ".", `jobs ""` listed every job and
`merge A B --into ""` merged into the default, each as if the argument had not been given. A port or --workers out
of range is named as the flag it is, not as the environment variable the command line never set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from influencers.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("argv", "argument"), [
    (["ingest", ""], "MANIFEST"),
    (["run", " "], "MANIFEST"),
    (["run", "m.csv", "--report", ""], "--report"),
    (["export", "--out", ""], "--out"),
    (["eval", "--truth", ""], "--truth"),
    (["jobs", ""], "JOB"),
    (["cancel", ""], "JOB"),
    (["merge", "Ann", "Bea", "--into", ""], "--into"),
    (["enrol", "Ann", ""], "PHOTO"),
    (["undo", "\n"], "AUDIT_ID"),  # was sent as "": "audit_id '' is not an audit id", of what was typed
    (["split", "Ann", "a1b2c3d4e5f60718", " "], "VIDEO_ID"),
    (["move", "\t", "Ann"], "VIDEO_ID"),
    (["enrol", " ", "a.jpg"], "NAME"),  # was identity's refusal, once the services answered
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_an_empty_path_or_job_id_is_refused_naming_its_argument(argv, argument, capsys, tmp_path,
                                                                  monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"error: argument {argument}: is empty (" in line and "Traceback" not in line
    assert list(tmp_path.iterdir()) == [], "nothing written"


def test_an_empty_name_still_clears_a_name_in_rename(capsys) -> None:
    from influencers.cli import build_parser

    assert build_parser().parse_args(["rename", "inf_aaaa000001", ""]).name == ""


@pytest.mark.parametrize("blanks", [" ", "\n\t", "\u3000\r\n", "\u200b"], ids=repr)
def test_a_name_of_blanks_alone_is_refused_naming_its_argument_not_taken_to_clear_the_name(blanks) -> None:
    # Was: sent to identity, which took it for "" and cleared the name (the page did the same; both refuse it now)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    done = subprocess.run([sys.executable, "-m", "influencers", "rename", "inf_aaaa000001", blanks], cwd=ROOT,
                          env={**clean, "INFLUENCERS_IDENTITY_PORT": "1"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line == (f"influencers rename: error: argument NAME: name {blanks!r} has no visible characters: give a "
                    'name, or "" to clear it (see influencers rename --help)')


@pytest.mark.parametrize(("argv", "said"), [
    (["jobs", "--ingest-port", "99999"], "argument --ingest-port: 99999 is out of range (0 to 65535)"),
    (["review", "--identity-port", "-1"], "argument --identity-port: -1 is out of range (0 to 65535)"),
    (["serve", "--workers", "5000"], "argument --workers: 5000 is out of range (0 to 1024)"),
    (["run", "m.csv", "--metrics-port", "1e3"], "argument --metrics-port: '1e3' is not a whole number"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_port_or_workers_flag_out_of_range_is_named_as_the_flag(argv, said, capsys) -> None:
    # Was: "INFLUENCERS_INGEST_PORT=99999 is out of range", of a variable nobody set
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert said in line and "INFLUENCERS_" not in line


@pytest.mark.parametrize("argv", [["eval", "--truth", "{bad}"], ["ingest", "{bad}"]], ids=["eval", "ingest"])
def test_a_path_holding_a_line_break_or_escape_sequence_is_quoted_on_one_line_with_them_escaped(
        argv, tmp_path, capsys) -> None:
    # Was printed raw: the error took two lines and the ESC sequence coloured (or cleared) the terminal
    bad = str(tmp_path / "x\x1b[31m\nred")
    assert main([a.format(bad=bad) for a in argv]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "x\\x1b[31m\\nred" in line and "\x1b" not in line


@pytest.mark.parametrize("host", ["http://ingest", "ann:hunter2@ingest", "ingest/", "a\nb", "in gest"])
def test_a_host_that_is_a_url_or_holds_a_path_or_blank_is_a_usage_error_naming_the_flag(host) -> None:
    # Was taken: the command waited 3 s, said "the ingest service at http://ingest:50051 is not answering" (exit 1)
    # and suggested `influencers serve --host http://ingest`; a password before an `@` was echoed
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    for argv, env, named in ((["jobs", "--host", host], {}, "--host "), (["jobs"], {"INFLUENCERS_HOST": host},
                                                                         "INFLUENCERS_HOST=")):
        done = subprocess.run([sys.executable, "-m", "influencers", *argv], cwd=ROOT, env={**clean, **env},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"influencers: error: {named}") and "is not a host name or address" in line, line
        assert "hunter2" not in line


def test_a_job_id_pasted_with_blanks_or_in_capitals_is_that_job_as_video_and_audit_ids_are() -> None:
    # Was sent as typed: `cancel 4D30008F743544C4` and `jobs " 4d30008f743544c4"` were "no job ... in this queue"
    from influencers.cli import build_parser

    assert build_parser().parse_args(["cancel", "4D30008F743544C4"]).job == "4d30008f743544c4"
    assert build_parser().parse_args(["jobs", " 4d30008f743544c4\t"]).job == "4d30008f743544c4"
    assert build_parser().parse_args(["jobs", " Job-A "]).job == "Job-A", "another form keeps its case"
