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


# Read as a new user (session 40): each help said something only a developer of this code could follow.

@pytest.mark.parametrize(("argv", "default"), [(["run"], "9464"), (["serve"], "9464"),
                                               (["service", "ingest"], "none"), (["service", "identity"], "none"),
                                               (["service", "analytics"], "none")])
def test_each_commands_metrics_port_help_gives_its_own_default_only(capsys, argv, default) -> None:
    # Was, in every one: "(default 9464 for run and serve, none for service; ...)".
    said = help_of(argv, capsys)
    assert f"Prometheus metrics port, 0 = none (default {default}; env INFLUENCERS_METRICS_PORT)" in said
    assert "for run and serve" not in said


@pytest.mark.parametrize("argv", [["run"], ["ingest"]])
def test_the_manifest_help_says_what_a_url_may_be_and_what_performance_is(capsys, argv) -> None:
    said = help_of(argv, capsys)
    assert "a file path, relative to the CSV, or an http(s) link" in said and "the video's score" in said


def test_the_influencer_help_shows_a_split_id_instead_of_a_riddle(capsys) -> None:
    said = help_of(["rename"], capsys)
    assert "(inf_1a3ddd6b90, or inf_1a3ddd6b90s)" in said and "a split's ends in s" not in said


def test_delete_says_it_is_final_where_its_help_said_only_audited(capsys) -> None:
    said = help_of(["delete"], capsys)
    assert "at once and for good" in said and "`undo` cannot bring them back" in said


@pytest.mark.parametrize("argv", [["split"], ["move"]])
def test_a_video_id_help_says_where_to_find_one(capsys, argv) -> None:
    said = help_of(argv, capsys)
    assert "16 hex digits: the video page's \"content id\", videos.csv's video_id" in said
    assert "content ids of" not in said


def test_review_all_is_the_pages_show_less_likely_not_a_probability_floor(capsys) -> None:
    said = help_of(["review"], capsys)
    assert "also the less likely pairs (under 50%" in said and "Show less likely" in said
    assert "probability floor" not in said


def test_answer_says_what_each_answer_does(capsys) -> None:
    said = help_of(["answer"], capsys)
    assert "same: merge them; different: keep them apart for good; skip: take the pair off the list" in said


def test_cancel_and_recluster_say_what_happens_in_a_users_words(capsys) -> None:
    cancel = help_of(["cancel"], capsys)
    assert "the others are not started, and the same manifest runs them again" in cancel
    assert "reconciles" not in cancel
    assert "names and corrections are kept" in help_of(["recluster"], capsys)
    assert "housekeeping" not in help_of([], capsys)
