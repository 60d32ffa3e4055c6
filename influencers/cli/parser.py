"""The argument parser: one sub-command per job, each with the options of its group only.

Light: it names each command's function by module, imported when that command runs (_runs), so that `--version`,
`--help` and a usage error import no grpc, SQLAlchemy or service (tests/unit/test_cli_light_start.py)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from influencers.cli.closed_stdout import WRITE_ERROR, written_to_stdout
from influencers.cli.typed_ids import audit_id_word, job_id_word, video_id_word
from services.common.settings import DEFAULT_METRICS_PORT, Settings

# The words `answer` takes: the keys of services.common.clients.REVIEW_ANSWERS (which imports the protos;
# tests/unit/test_cli_light_start.py checks that they are the same).
ANSWER_WORDS = ("same", "different", "skip")

DESCRIPTION = "The `influencers` command: run, serve, ingest, export, and corrections to who is who."
# Shown under `influencers --help`; each line after the first parses (tests/unit/test_names.py).
EXAMPLES = """examples:
  influencers run videos/manifest.csv       process a manifest, serve the page
  influencers run videos/manifest.csv --no-serve      ... exit with the report
  influencers ingest more.csv               more videos, while `run` is going
  influencers rename inf_1a3ddd6b90 Tony    name a person (then use the name)
  influencers export --out report/          the report's CSV and JSON files
every command and option: docs/cli.md"""


def _runs(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The command function `name` of influencers.cli.`module`, imported only when the command runs."""
    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(f"influencers.cli.{module}"), name)(args) or 0)

    run.__name__ = run.__qualname__ = name
    return run


def given(word: str) -> str:
    """A path or job id as typed; an empty one is a usage error naming its argument (`argument --out: is empty`):
    `--out ""` wrote the report into the working directory, `ingest ""` read the folder ".", `jobs ""` listed
    every job and `--into ""` merged into the default, each as if the argument had not been given."""
    if not word.strip():
        raise argparse.ArgumentTypeError(f"is empty ({word!r}): give a value")
    return word


def display_name(word: str) -> str:
    """rename's NAME: "" clears the name; a name of blanks, line breaks or invisible characters alone (`$'\\n\\t'`)
    is a usage error naming the argument, by identity's own rule (name_text.clean_name: the page and identity
    refuse it too). Was: sent as it was and taken for "", so that it cleared the name."""
    if problem := _unseen(word):
        raise argparse.ArgumentTypeError(f'{problem}: give a name, or "" to clear it')
    return word


def person_name(word: str) -> str:
    """enrol's NAME: a name with something visible; "", blanks or invisible characters alone are a usage error
    naming the argument (an enrolment names someone). Was refused by identity once the services had been reached
    (`refused: enrolling needs a name`)."""
    if problem := _unseen(given(word)):
        raise argparse.ArgumentTypeError(f"{problem}: give the person's name")
    return word


def _unseen(word: str) -> str:
    """Why `word` is no name identity takes as one (name_text.clean_name's refusal), or ""."""
    from services.common.name_text import BadName, clean_name  # here: `--help` imports none of it

    try:
        clean_name(word, max_chars=sys.maxsize)  # the length is identity's to refuse, with its limit
    except BadName as exc:
        return str(exc)
    return ""


def whole_number(setting: str) -> Callable[[str], int]:
    """The type of a flag for the whole-number setting `setting` (a port, --workers): a value out of its range is a
    usage error naming the flag (`argument --ingest-port: 99999 is out of range (0 to 65535)`), where it was said
    as the environment variable (`INFLUENCERS_INGEST_PORT=99999 ...`) that the command line never set."""
    def parse(word: str) -> int:
        try:
            value = int(word)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{word[:80]!r} is not a whole number") from None
        if problem := Settings.range_problem(setting, value):
            raise argparse.ArgumentTypeError(f"{value} is {problem}")
        return value

    return parse


class _Version(argparse.Action):
    """--version: the installed package's version, read (importlib.metadata) only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the program's version number and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from influencers import version

        parser._print_message(f"{parser.prog} {version()}\n", sys.stdout)  # on stdout, as argparse's own action
        parser.exit()


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not the usage text and then the error; one
    that a value starting with '-' caused (a name "-Ann", taken for an option) says to give it after '--'."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        parsed, extras = self.parse_known_args(args, namespace)
        if "--" in extras and extras.count("--") == self._given.count("--"):
            # No value took the first '--' (`review --`, `recluster --`): it only ends the options, as everywhere
            # else. Python 3.11's argparse strips it only from a positional's values, and said "unrecognized
            # arguments: --" of a command that takes none.
            extras.remove("--")
        if extras:
            # An option the command does not take is the command's error, pointing to its own --help: the top
            # parser said "(see influencers --help)", whose help lists no command's options.
            commands = getattr(self, "commands", {})
            commands.get(getattr(parsed, "command", None), self).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        """argparse's, but a write that stdout refuses (`influencers --help > /dev/full`) is one line and exit 1, as
        coreutils say it: argparse dropped it and exited 0. A reader gone (`| head`) still ends it quietly."""
        if not message:
            return
        if file is not sys.stdout:  # stderr: argparse's own way (a stderr that refuses has no one to tell)
            super()._print_message(message, file)
            return
        if refused := written_to_stdout(message):
            from influencers.cli.output import say_error  # imports --help never needs

            say_error(f"{_asked(getattr(self, '_given', []))}: {refused}", self.prog)
            self.exit(WRITE_ERROR)

    def error(self, message: str) -> NoReturn:
        from influencers.cli.config import configure_cli_logging  # the error's own set-up: JSON logs make it a
        from influencers.cli.output import USAGE_ERROR, say_error  # JSON record (imports --help never needs)

        configure_cli_logging()
        given = getattr(self, "_given", [])
        say_error(f"{message}{_option_first_hint(given, message) or _dash_hint(given, message)} (see {self.prog} "
                  "--help)",
                  self.prog)  # a JSON record with JSON logs
        self.exit(USAGE_ERROR)


def _asked(given: list[str]) -> str:
    """What printed on stdout before a command runs: the first of `--version` and `--help` (`-h`) given."""
    return next(("--help" if word == "-h" else word for word in given if word in ("--version", "--help", "-h")),
                "--help")


def _option_first_hint(given: list[str], message: str) -> str:
    """A note for `influencers --data-dir d export`: an option before the command, which argparse passed over,
    then took its value for the command ("invalid choice: 'd'")."""
    if not (given and given[0].startswith("--") and given[0] not in ("--", "--help", "--version")
            and "argument COMMAND: invalid choice" in message):
        return ""
    return f": {given[0]!r} is an option of a command: give it after the command (influencers COMMAND {given[0]} ...)"


def _dash_hint(given: list[str], message: str) -> str:
    """A note for an error argparse gave because it read a value such as "-Ann" (a name, an id) as an option:
    every option here is long (--x) but -h, so a word of one '-' and a letter is such a value. Or, the other way
    round, an option given after '--' (`rename ID -- -Ann --identity-port 50054`, as the value's note says to
    write it), which argparse took for a value and then called unrecognized with no word of why."""
    if "--" in given:
        after = given[given.index("--") + 1:]
        option = next((a for a in after if a.startswith("--") and len(a) > 2), "")
        if option and "unrecognized" in message:
            return f": {option!r} came after '--', which makes every word after it a value: give options before '--'"
        return ""
    if not ("required" in message or "unrecognized" in message):
        return ""
    dashed = next((a for a in given if a.startswith("-") and len(a) > 1 and a[1] != "-" and a != "-h"
                   and not a[1:].replace(".", "", 1).isdigit()), "")
    return f": {dashed!r} was read as an option; give a value starting with '-' after '--' (-- {dashed})" if dashed \
        else ""


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per job. Each takes the options of its group only (argparse parents): commands that
    start services take the data dir, the ports they bind and the workers; commands that talk to running
    services take only where those services are (--host and their ports); file commands take the data dir."""
    # Each command's function, imported when it runs
    cmd_cancel = _runs("jobs", "cmd_cancel")
    cmd_correct = _runs("corrections", "cmd_correct")
    cmd_eval = _runs("report", "cmd_eval")
    cmd_export = _runs("report", "cmd_export")
    cmd_identity = _runs("corrections", "cmd_identity")
    cmd_ingest = _runs("jobs", "cmd_ingest")
    cmd_jobs = _runs("jobs", "cmd_jobs")
    cmd_predict = _runs("report", "cmd_predict")
    cmd_run = _runs("serving", "cmd_run")
    cmd_serve = _runs("serving", "cmd_serve")
    cmd_service = _runs("serving", "cmd_service")
    p = _OneLineParser(prog="influencers", description=DESCRIPTION, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           help="one of these; `influencers COMMAND --help` lists its own options")
    p.commands = sub.choices  # type: ignore[attr-defined]  # each command's parser, for its own errors

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-dir", help="where the stores live (default ./data, env INFLUENCERS_DATA_DIR)")
    port_help = {"web": "report page port (default 8080, env INFLUENCERS_WEB_PORT)",
                 "ingest": "ingest service port (default 50051, env INFLUENCERS_INGEST_PORT)",
                 "identity": "identity service port (default 50052, env INFLUENCERS_IDENTITY_PORT)",
                 "analytics": "analytics service port (default 50053, env INFLUENCERS_ANALYTICS_PORT)"}

    workers_help = {"both": "face-analysis processes, and videos ingested at once",
                    "identity": "face-analysis processes",
                    "ingest": "videos ingested at once (one more is fetched meanwhile)"}

    def serving(ports: tuple[str, ...], workers: str = "both",
                metrics_default: int | None = DEFAULT_METRICS_PORT) -> argparse.ArgumentParser:
        """The options of a command that starts services: the ports it binds or calls, --workers if it has any
        (`workers`: what they are in its services, a key of workers_help; "" for none), and the metrics port
        (`metrics_default`: its default, None for none)."""
        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("--host", help="interface to bind (default 127.0.0.1, env INFLUENCERS_HOST)")
        for port in ports:
            options.add_argument(f"--{port}-port", type=whole_number(f"{port}_port"), help=port_help[port])
        if workers:
            options.add_argument("--workers", type=whole_number("workers"), help=f"{workers_help[workers]} "
                                 "(default: one per core; env INFLUENCERS_WORKERS)")
        # Each command's own default: `service NAME --help` read "default 9464 for run and serve, none for service".
        default = "none" if metrics_default is None else metrics_default
        options.add_argument("--metrics-port", type=whole_number("metrics_port"),
                             help=f"Prometheus metrics port, 0 = none (default {default}; env "
                                  "INFLUENCERS_METRICS_PORT)")
        return options

    server = serving(("web", "ingest", "identity", "analytics"))
    where = "host of the running services (default 127.0.0.1, env INFLUENCERS_HOST)"
    ingest_client = argparse.ArgumentParser(add_help=False)
    ingest_client.add_argument("--host", help=where)
    ingest_client.add_argument("--ingest-port", type=whole_number("ingest_port"),
                               help="the ingest service's port (default 50051, env INFLUENCERS_INGEST_PORT)")
    identity_client = argparse.ArgumentParser(add_help=False)
    identity_client.add_argument("--host", help=where)
    identity_client.add_argument("--identity-port", type=whole_number("identity_port"),
                                 help="the identity service's port (default 50052, env INFLUENCERS_IDENTITY_PORT)")
    identity_client.add_argument("--analytics-port", type=whole_number("analytics_port"),
                                 help="the analytics service's port (default 50053, env INFLUENCERS_ANALYTICS_PORT)")

    def command(name: str, text: str, parents: list[argparse.ArgumentParser], func: Callable[..., int]
                ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=text, description=text, parents=parents)
        sp.set_defaults(func=func)
        return sp

    manifest = ("CSV of the videos: a 'Video URL' column (a file path, relative to the CSV, or an http(s) link) and "
                "a 'Performance' column (the video's score); other columns are ignored")
    person = "an influencer: its name, or its id as the page shows it (inf_1a3ddd6b90, or inf_1a3ddd6b90s)"
    run = command("run", "start everything, ingest a manifest, write the report, serve the page",
                  [data, server], cmd_run)
    run.add_argument("manifest", metavar="MANIFEST", type=given, help=manifest)
    run.add_argument("--no-serve", action="store_true", help="exit when the report is written")
    run.add_argument("--report", type=given, help="report folder (default DATA_DIR/report)")
    command("serve", "start the three services and the page, and wait", [data, server], cmd_serve)
    one = command("service", "run one service alone (containers, scale-out)", [], cmd_service)
    # Each service its own options: identity and ingest serve no page, analytics has no workers; ingest and
    # analytics take the ports of the services they call (unless INFLUENCERS_*_ADDR says where).
    which = one.add_subparsers(dest="service", required=True, metavar="SERVICE",
                               help="ingest, identity or analytics; `influencers service SERVICE --help` lists its "
                                    "own options")
    for name, ports, workers in (("ingest", ("ingest", "identity", "analytics"), "ingest"),
                                 ("identity", ("identity",), "identity"),
                                 ("analytics", ("analytics", "web", "identity"), "")):
        text = f"run the {name} service alone"
        which.add_parser(name, help=text, description=text, parents=[data, serving(ports, workers, None)])
    ing = command("ingest", "send a manifest to running services and follow the job", [ingest_client], cmd_ingest)
    ing.add_argument("manifest", metavar="MANIFEST", type=given, help=manifest)
    ing.add_argument("--detach", action="store_true",
                     help="submit the job and exit; print its id alone on the last line (follow it: "
                          "`influencers jobs JOB`)")
    jobs = command("jobs", "list the ingest jobs of running services, or follow one (JOB)", [ingest_client], cmd_jobs)
    jobs.add_argument("job", nargs="?", metavar="JOB", type=job_id_word,
                      help="a job id: follow its progress until it ends")
    cancel = command("cancel", "cancel an ingest job (videos being analysed finish; the others are not started, "
                     "and the same manifest runs them again)",
                     [ingest_client], cmd_cancel)
    cancel.add_argument("job", metavar="JOB", type=job_id_word, help="the job id (see `influencers jobs`)")
    exp = command("export", "write the report (CSV and JSON) from a data dir, as it is now", [data], cmd_export)
    exp.add_argument("--out", required=True, type=given, help="folder to write the report's files in")
    pred = command("predict", "the score a video with these influencers is expected to have, and its range, from a "
                   "data dir as it is now (the page's Predict)", [data], cmd_predict)
    pred.add_argument("influencers", nargs="+", metavar="INFLUENCER", help=person)
    ev = command("eval", "score a data dir against a labelled corpus (truth.csv)", [data], cmd_eval)
    ev.add_argument("--truth", required=True, type=given, help="corpus folder holding truth.csv")
    command("recluster", "re-derive all influencers from the stored faces (names and corrections are kept)",
            [identity_client], cmd_identity)
    merge = command("merge", "merge influencers into one: the one in the most videos, unless --into says",
                    [identity_client], cmd_identity)
    merge.add_argument("ids", nargs="+", metavar="INFLUENCER", help=person + "; two or more")
    merge.add_argument("--into", metavar="INFLUENCER", type=given, help="the one to keep (default: the one in the most "
                       "videos; on a tie the named one), as the page's merge")
    split = command("split", "move an influencer's faces in some videos to a new influencer",
                    [identity_client], cmd_identity)
    split.add_argument("id", metavar="INFLUENCER", help=person)
    split.add_argument("videos", nargs="+", metavar="VIDEO_ID", type=video_id_word,
                       help="the ids of the videos to split off (16 hex digits: the video page's \"content id\", "
                            "videos.csv's video_id)")
    rename = command("rename", "give an influencer a display name", [identity_client], cmd_identity)
    rename.add_argument("id", metavar="INFLUENCER", help=person)
    rename.add_argument("name", metavar="NAME", type=display_name, help="the new name (\"\" clears it)")
    enrol = command("enrol", "name a known person from reference photos (never counted as appearances)",
                    [identity_client], cmd_correct)
    enrol.add_argument("name", metavar="NAME", type=person_name, help="the person's name")
    enrol.add_argument("photos", nargs="+", metavar="PHOTO", type=given, help="JPEG or PNG files, one face each")
    move = command("move", "move one video's appearance of an influencer to another (or a new one)",
                   [identity_client], cmd_correct)
    move.add_argument("video_id", metavar="VIDEO_ID", type=video_id_word,
                      help="the video's id (16 hex digits: the video page's \"content id\", videos.csv's "
                           "video_id)")
    move.add_argument("id", metavar="INFLUENCER", help=person + ": whose appearance it is now")
    move.add_argument("target", nargs="?", metavar="TARGET", help="the influencer it goes to (default: a new one)")
    hide = command("hide", "mark an influencer 'not an influencer' (kept, left out of statistics)",
                   [identity_client], cmd_correct)
    hide.add_argument("id", metavar="INFLUENCER", help=person)
    unhide = command("unhide", "count a hidden influencer again", [identity_client], cmd_correct)
    unhide.add_argument("id", metavar="INFLUENCER", help=person)
    delete = command("delete", "erase a person: faces, crops, name and appearances, at once and for good "
                     "(audited; `undo` cannot bring them back)",
                     [identity_client], cmd_correct)
    delete.add_argument("id", metavar="INFLUENCER", help=person)
    undo = command("undo", "revert a correction by its audit id (printed by the correction, and on /audit)",
                   [identity_client], cmd_correct)
    undo.add_argument("audit_id", metavar="AUDIT_ID", type=audit_id_word,
                      help="the correction's audit id (32 hex digits)")
    review = command("review", "list the 'same person?' queue, most likely first, with the probability that the "
                     "two are one person", [identity_client], cmd_correct)
    review.add_argument("--all", action="store_true", help="also the less likely pairs (under 50%%, or "
                        "INFLUENCERS_REVIEW_FLOOR: the page's \"Show less likely\")")
    answer = command("answer", "answer a review item: same (merge), different (keep apart) or skip",
                     [identity_client], cmd_correct)
    answer.add_argument("a", metavar="A", help=person)
    answer.add_argument("b", metavar="B", help=person)
    answer.add_argument("answer", choices=ANSWER_WORDS, help="same: merge them; different: keep them "
                        "apart for good; skip: take the pair off the list")
    return p
