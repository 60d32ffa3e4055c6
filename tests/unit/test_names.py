"""services/common/names.py: which influencer a typed word stands for, and who survives a merge."""

import shlex

import pytest

from influencers.cli import build_parser
from influencers.names import Resolver
from services.common.names import Known, NameLookupError, merge_order, namesakes, resolve, shared_name_note, survivor

ANN, BOB, CAT = "inf_00000000a1", "inf_00000000b2", "inf_00000000c3"


def test_the_survivor_is_the_one_in_the_most_videos():
    assert survivor([Known(ANN, "", 1), Known(BOB, "", 3), Known(CAT, "Cat", 2)]) == BOB


def test_on_a_tie_of_videos_the_named_one_survives_then_the_lowest_id():
    assert survivor([Known(ANN, "", 2), Known(BOB, "Bob", 2)]) == BOB
    assert survivor([Known(BOB, "", 2), Known(ANN, "", 2)]) == ANN


def test_merge_order_puts_the_survivor_first_and_drops_repeats():
    known = [Known(ANN, "", 1), Known(BOB, "Bob", 4)]
    assert merge_order([ANN, BOB, ANN], known) == [BOB, ANN]


def test_an_exact_id_wins_over_a_name():
    assert resolve(ANN, [Known(ANN), Known(BOB, ANN, 1)]) == ANN


def test_a_name_resolves_ignoring_case_and_blanks():
    assert resolve("  ann   LEE ", [Known(ANN, "Ann Lee", 2), Known(BOB, "Bob", 1)]) == ANN


@pytest.mark.parametrize("typed", ["Zoe\u0308 Lee", "ZOE\u0308 LEE", "Zo\u00eb\u200b Lee", "\u202aZo\u00eb Lee",
                                   "Zo\u00eb\u00a0Lee"])
def test_a_name_typed_decomposed_or_with_invisible_characters_is_the_stored_name(typed: str) -> None:
    """Identity stores names NFC and without invisible characters (name_text.clean_name): "Zoë" typed on a
    terminal that sends it decomposed (e + U+0308, as macOS file names and some keyboards give it), or pasted
    with a zero-width space or a bidi mark, was "no influencer is named ...". And two names that differ so are
    one name for namesakes too."""
    known = [Known(ANN, "Zo\u00eb Lee", 2), Known(BOB, "Zoe Lee", 1)]
    assert resolve(typed, known) == ANN
    assert [k.influencer_id for k in namesakes(CAT, typed, known)] == [ANN]


def test_a_shared_name_is_refused_listing_every_candidate_with_id_and_videos():
    with pytest.raises(NameLookupError) as err:
        resolve("Tony", [Known(ANN, "Tony", 1), Known(BOB, "tony", 5)])
    assert str(err.value) == (f"'Tony' names 2 influencers: tony {BOB} (5 videos); Tony {ANN} (1 video). "
                              "Give the id instead")


def test_a_name_nobody_has_is_refused_and_an_unlisted_id_goes_on_to_identity():
    with pytest.raises(NameLookupError, match="no influencer is named or has the id 'Zed'"):
        resolve("Zed", [Known(ANN, "Ann", 1)])
    assert resolve(CAT, [Known(ANN, "Ann", 1)]) == CAT


def test_an_id_typed_in_capitals_is_that_id_and_asks_identity_for_no_list():
    class NoList:
        def influencers(self):  # noqa: ANN201 - the port's one call, which an id never needs
            raise AssertionError("an id needs no lookup")

    assert Resolver(NoList()).one(" INF_00000000A1 ") == ANN


@pytest.mark.parametrize("typed", ["\u0456nf_00000000a1", "\uff49\uff4e\uff46\uff3f\uff10\uff10\uff10\uff10\uff10\uff10"
                                   "\uff10\uff10\uff41\uff11", "inf_00000000\u0430\u0661", "inf_00000000a1\u200b"])
def test_a_word_that_only_looks_like_an_id_stands_for_nobody_even_a_person_of_that_name(typed: str) -> None:
    # Cyrillic і, full-width, Cyrillic а and an Arabic-Indic one, a zero-width space: was the influencer of that
    # name (one named before such names were refused), or "no influencer is named ...", where the analyst meant
    # the id it looks like
    known = [Known(ANN, "", 3), Known(BOB, typed, 1)]
    with pytest.raises(NameLookupError, match="looks like an influencer id but is not one"):
        resolve(typed, known)

    class Lists:
        def influencers(self):  # noqa: ANN201 - the port's one call
            return []

    with pytest.raises(NameLookupError, match="type the id in plain letters and digits"):
        Resolver(Lists()).one(typed)
    assert resolve(ANN, known) == ANN and Resolver(Lists()).one(ANN.upper()) == ANN


CLIENT_COMMANDS = ["ingest", "jobs", "cancel", "recluster", "merge", "split", "rename", "enrol", "move", "hide",
                   "unhide", "delete", "review", "answer"]


def subcommands():
    parser = build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices  # argparse keeps them here


@pytest.mark.parametrize("command", CLIENT_COMMANDS)
def test_a_client_commands_help_lists_no_server_option(command):
    text = subcommands()[command].format_help()
    for server_only in ("--web-port", "--workers", "--data-dir"):
        assert server_only not in text, f"{command} --help lists {server_only}"


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_server_commands_help_lists_its_ports_and_workers(command):
    text = subcommands()[command].format_help()
    assert "--web-port" in text and "--workers" in text and "--data-dir" in text


def options_of(parser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings} - {"-h", "--help"}


@pytest.mark.parametrize(("service", "options"), [
    ("ingest", {"--data-dir", "--host", "--ingest-port", "--identity-port", "--analytics-port", "--workers",
                "--metrics-port"}),
    ("identity", {"--data-dir", "--host", "--identity-port", "--workers", "--metrics-port"}),
    ("analytics", {"--data-dir", "--host", "--analytics-port", "--web-port", "--identity-port", "--metrics-port"}),
])
def test_each_services_help_lists_the_options_it_uses_and_no_other(service, options):
    # Before, `influencers service --help` listed every port of run's (--web-port for identity and ingest, which
    # serve no page) and --workers for analytics, which has none.
    service_parser = subcommands()["service"]
    assert options_of(service_parser) == set(), "the options go with a service"
    one = next(a for a in service_parser._actions if a.dest == "service").choices[service]
    assert options_of(one) == options
    assert f"influencers service {service}" in one.format_help()
    args = build_parser().parse_args(["service", service, "--data-dir", "d", "--metrics-port", "0"])
    assert (args.command, args.service, args.data_dir, args.metrics_port) == ("service", service, "d", 0)


def test_every_positional_argument_has_help_text():
    for name, parser in subcommands().items():
        for action in parser._actions:
            if not action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.dest} has no help"


def test_every_positional_argument_is_shown_in_capitals_as_docs_cli_md_writes_it():
    # `influencers rename INFLUENCER NAME`, not `INFLUENCER name`; a required one missing is named that way too.
    for name, parser in subcommands().items():
        for action in parser._actions:
            if not action.option_strings and action.dest != "help" and not action.choices:
                assert action.metavar and action.metavar.isupper(), f"{name} {action.dest}: {action.metavar}"


def test_every_example_under_influencers_help_parses_as_written():
    from influencers.cli.parser import EXAMPLES

    lines = [line.strip() for line in EXAMPLES.splitlines() if line.startswith("  influencers ")]
    assert len(lines) >= 3
    for line in lines:
        argv = shlex.split(line.split("   ")[0])[1:]  # the command, before the columns of its comment
        assert build_parser().parse_args(argv).func, line
    assert "examples:" in build_parser().format_help()


def test_namesakes_are_the_others_with_the_name_folded_most_videos_first_and_the_note_lists_them():
    known = [Known("inf_a", "Ann  Lee", 1), Known("inf_b", "ann lee", 4), Known("inf_c", "Bo", 9), Known("inf_d")]
    assert namesakes("inf_a", "ANN LEE", known) == [known[1]]
    assert namesakes("inf_x", "ann lee", known) == [known[1], known[0]]
    assert namesakes("inf_d", "", known) == [] and namesakes("inf_c", "Bo", known) == []
    assert shared_name_note("Ann Lee", []) == ""
    # A namesake written otherwise is shown as written (was: only the spelling just typed, for both).
    assert shared_name_note("ann lee", [Known("inf_b", "Ann Lee", 4)]).startswith(
        "Also named 'ann lee': inf_b ('Ann Lee', 4 videos). ")
    assert shared_name_note("ann lee", [known[1]]).startswith("Also named 'ann lee': inf_b (4 videos). ")
    many = [Known(f"inf_{k}", "Al", k) for k in range(7)]
    assert shared_name_note("Al", many).count(" video") == 5 and " and 2 more." in shared_name_note("Al", many)


@pytest.mark.parametrize("twin", ["\u0410nn", "Ann\ufe0f", "\uff21\uff4e\uff4e"])
def test_a_name_the_eye_cannot_tell_from_another_is_its_namesake_and_neither_alone_stands_for_one(twin: str) -> None:
    # A Cyrillic А, a variation selector, full-width letters: was another name, so "Ann" stood for the plain one
    # while the twin passed for it on the page, and no note said that two people shared it
    known = [Known(ANN, "Ann", 3), Known(BOB, twin, 1)]
    assert namesakes(ANN, "Ann", known) == [known[1]]
    with pytest.raises(NameLookupError, match="names 2 influencers"):
        resolve("Ann", known)
    assert resolve("Zoë", [Known(ANN, "Zoë", 1), Known(BOB, "Zoe", 1)]) == ANN, "an accent is no look-alike"


@pytest.mark.parametrize(("one", "other"), [("Євген", "Евген"), ("Єва", "Ева"), ("Aydın", "Aydin")])
def test_names_that_differ_by_a_letter_of_their_own_alphabet_are_two_names_not_namesakes(one: str, other: str) -> None:
    # Ukrainian Є beside Е, Turkish dotless ı beside i: letters of their own, told apart at a glance like Zoë and
    # Zoe; were read as the same look-alike Latin e or i, so the two people were namesakes and neither name alone
    # stood for its own person on the CLI
    known = [Known(ANN, one, 3), Known(BOB, other, 1)]
    assert namesakes(ANN, one, known) == []
    assert resolve(one, known) == ANN and resolve(other, known) == BOB
