"""A name or id starting with '-' on the command line ("-Ann", a handle such as "-dj-k-"): argparse reads it as an
option, and the error said only that NAME was missing or "-Ann" unrecognized. It now says how to give it."""

from __future__ import annotations

import pytest

from influencers.cli.parser import build_parser


def refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("argv", "value"), [
    (["rename", "inf_00000000a1", "-Ann"], "-Ann"),  # "the following arguments are required: NAME"
    (["merge", "Ann", "-dj-k-"], "-dj-k-"),  # "unrecognized arguments: -dj-k-"
])
def test_a_value_starting_with_a_dash_read_as_an_option_is_said_to_go_after_two_dashes(argv, value, capsys) -> None:
    said = refusal(argv, capsys)
    assert f"{value!r} was read as an option; give a value starting with '-' after '--' (-- {value})" in said, said


def test_after_two_dashes_such_a_value_is_taken_and_other_errors_get_no_such_note(capsys) -> None:
    args = build_parser().parse_args(["rename", "inf_00000000a1", "--", "-Ann"])
    assert (args.id, args.name) == ("inf_00000000a1", "-Ann")
    assert build_parser().parse_args(["rename", "inf_00000000a1", "-5"]).name == "-5"  # a number is a value
    for argv in (["hide"], ["rename", "inf_00000000a1", "Ann", "--bogus"]):
        assert "was read as an option" not in refusal(argv, capsys)


@pytest.mark.parametrize("argv", [["ingest", "m.csv", "--identity-port", "5"], ["jobs", "--bogus"]])
def test_an_option_the_command_does_not_take_points_to_that_commands_help(argv, capsys) -> None:
    # Found as a new user (session 42): "influencers ingest m.csv --identity-port 5" said "(see influencers
    # --help)", whose help lists no command's options; every other usage error named the command's own help.
    said = refusal(argv, capsys)
    assert said.startswith(f"influencers {argv[0]}: error: unrecognized arguments: "), said
    assert said.rstrip().endswith(f"(see influencers {argv[0]} --help)"), said


@pytest.mark.parametrize("argv", [
    ["rename", "inf_00000000a1", "--", "-Ann", "--identity-port", "50054"],
    ["jobs", "--", "--ingest-port", "50054"],
])
def test_an_option_given_after_two_dashes_is_said_to_go_before_them(argv, capsys) -> None:
    # Was "unrecognized arguments: --identity-port 50054" (or "50054"), of a flag the command has
    said = refusal(argv, capsys)
    assert "came after '--', which makes every word after it a value: give options before '--'" in said, said


def test_an_option_before_the_command_is_said_to_go_after_it(capsys) -> None:
    # Was "argument COMMAND: invalid choice: 'd' (choose from ...)", of the option's value
    said = refusal(["--data-dir", "d", "export", "--out", "o"], capsys)
    assert "'--data-dir' is an option of a command: give it after the command (influencers COMMAND --data-dir" in said


@pytest.mark.parametrize("argv", [["review", "--"], ["review", "--all", "--"], ["recluster", "--"], ["jobs", "--"],
                                  ["export", "--out", "d", "--"], ["answer", "a", "b", "same", "--"],
                                  ["service", "ingest", "--"]])
def test_two_dashes_end_the_options_of_a_command_that_takes_no_value_after_them(argv) -> None:
    # `influencers review --` said "unrecognized arguments: --" (Python 3.11's argparse strips the first '--' only
    # from a positional's values)
    assert build_parser().parse_args(argv).command == argv[0]


def test_a_second_pair_of_dashes_is_a_value_and_an_option_after_the_first_is_said_to_go_before(capsys) -> None:
    assert build_parser().parse_args(["merge", "a", "--", "--", "b"]).ids == ["a", "--", "b"]
    assert "unrecognized arguments: --" in refusal(["rename", "i", "--", "-Ann", "--"], capsys)
    assert "'--all' came after '--'" in refusal(["review", "--", "--all"], capsys)


def test_two_dashes_before_the_command_are_not_said_to_be_an_option_of_a_command(capsys) -> None:
    said = refusal(["--", "review"], capsys)
    assert "invalid choice: '--'" in said and "is an option of a command" not in said, said
