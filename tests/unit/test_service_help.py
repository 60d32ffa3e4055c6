"""`influencers service NAME --help` says what --workers is in that service: identity's face-analysis processes,
ingest's videos at once. Both said "face-analysis processes, and videos ingested at once", which told an operator
sizing one service of a fleet about the other's work too."""

from __future__ import annotations

import pytest

from influencers.cli.parser import build_parser


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_identitys_workers_are_its_face_analysis_processes_only(capsys) -> None:
    said = help_of(["service", "identity"], capsys)
    assert "--workers WORKERS face-analysis processes (default: one per core" in said
    assert "ingested" not in said


def test_ingests_workers_are_the_videos_it_works_on_at_once(capsys) -> None:
    said = help_of(["service", "ingest"], capsys)
    assert "--workers WORKERS videos ingested at once (one more is fetched meanwhile)" in said
    assert "face-analysis" not in said


def test_run_with_all_three_services_names_both(capsys) -> None:
    assert "face-analysis processes, and videos ingested at once" in help_of(["run"], capsys)


@pytest.mark.parametrize("argv", [["run"], ["serve"], ["service", "analytics"], ["jobs"], ["undo"], ["merge"]])
def test_every_port_option_names_the_variable_that_sets_it_as_the_data_dir_and_host_do(capsys, argv) -> None:
    said = help_of(argv, capsys)
    ports = [word[2:-5] for word in said.split() if word.startswith("--") and word.endswith("-port")]
    assert ports, said
    for port in ports:
        variable = f"INFLUENCERS_{port.upper()}_PORT"
        assert variable in said, f"--{port}-port: {variable} missing from {said}"
