"""A service's refusal of a CLI command (an unknown job or influencer id, a malformed value) is one line on
stderr naming the command, saying "refused" and the service's message, and exit code 2; never a traceback nor
gRPC's code name (it said `NOT_FOUND: ...`)."""

import pytest

from influencers.cli import main

UNKNOWN = "inf_00000000ff"


@pytest.fixture
def ports(stack):
    """The ports of the running stack, as each command takes them (its own services' only)."""
    s = stack.settings

    def of(command: str) -> list[str]:
        if command in ("jobs", "cancel", "ingest"):
            return ["--ingest-port", str(s.ingest_port)]
        return ["--identity-port", str(s.identity_port), "--analytics-port", str(s.analytics_port)]
    return of


def error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("influencers:")]


@pytest.mark.parametrize(("args", "words"), [
    (["jobs", "no-such-job"], "no job 'no-such-job' in this queue (`influencers jobs --ingest-port "),
    (["cancel", "no-such-job"], "no job 'no-such-job'"),
    (["rename", UNKNOWN, "Ann"], UNKNOWN),
    (["merge", UNKNOWN, "inf_00000001fe"], UNKNOWN),
    (["split", UNKNOWN, "00000000000000a1"], UNKNOWN),
])
def test_a_refused_request_is_one_line_naming_the_command_and_the_services_message_and_exit_2(
        ports, capsys, args, words):
    capsys.readouterr()
    assert main([*args, *ports(args[0])]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"influencers: error: {args[0]}: refused: ") and words in lines[0]
    assert "NOT_FOUND" not in lines[0]


def test_a_very_long_id_is_cut_short_in_the_error_line(ports, capsys):
    capsys.readouterr()
    assert main(["jobs", "j" * 50_000, *ports("jobs")]) == 2
    (line,) = error_lines(capsys)
    assert len(line) < 400
