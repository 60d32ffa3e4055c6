"""An empty path or job id is a usage error naming its argument, exit 2, before anything runs: `export --out ""`
wrote the report into the working directory, `ingest ""` read the folder ".", `jobs ""` listed every job and
`merge A B --into ""` merged into the default, each as if the argument had not been given."""

from __future__ import annotations

import pytest

from influencers.cli import main


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
