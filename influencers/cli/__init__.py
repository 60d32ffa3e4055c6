"""The `influencers` command: run, serve, ingest, export, and identity housekeeping.

One module per job: parser.py builds the arguments; command.py runs a parsed command and maps every failure to
its one line and exit code; serving.py starts services (run, serve, service); jobs.py submits and follows ingest
jobs (ingest, jobs, cancel); corrections.py holds the identity commands; report.py reads a data dir (export,
eval); checks.py fails fast before anything starts; config.py turns flags into settings; connect.py reaches
running services; output.py says errors in one line; stopping.py ends a command a signal stopped; closed_stdout.py
quiets a reader gone. influencers/console.py is the console script's entry, before all of these.

This module and parser.py import nothing heavy (grpc, SQLAlchemy, numpy, pandas, PyAV, dlib, Flask): `influencers
--version` and every `--help` answer at once; a command imports what it needs once its arguments parse
(tests/unit/test_cli_light_start.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from influencers.cli.parser import build_parser

__all__ = ["build_parser", "main"]

# Exit codes of a command stopped in its work (a job before its end): 128 + the signal's number, as a shell says of
# a command the signal ended. Services being started or served stop with 0 (command.py `_stopped`).
INTERRUPTED = 130  # Ctrl-C (SIGINT)
TERMINATED = 143  # SIGTERM


def main(argv: list[str] | None = None, loaded: Callable[[], None] = lambda: None) -> int:
    """Entry point of `influencers` and `python -m influencers`. Exit codes: 0 done; 1 some row failed, or a
    service could not be reached or failed a call; 2 usage or configuration error (a bad setting or path,
    an unusable data dir, an unknown id or bad value refused by a service); 130 a job interrupted by Ctrl-C, 143
    by SIGTERM (services being started or served stop with 0). Every error is one line on stderr, `influencers:
    error: ...`, never a traceback. `loaded` is called once the command's modules are loaded, before it runs (the
    console script hands Ctrl-C back to KeyboardInterrupt there: influencers/console.py)."""
    try:
        args = build_parser().parse_args(argv)
        from influencers.cli.command import run_command  # the heavy imports, once there is a command to run

        loaded()
        return run_command(args)
    except KeyboardInterrupt:  # Ctrl-C before run_command's own handler: no traceback (the console script ends a
        # Ctrl-C while the command loads at once, influencers/console.py; a caller in-process meets it here)
        print("\ninfluencers: interrupted", file=sys.stderr)
        return INTERRUPTED
