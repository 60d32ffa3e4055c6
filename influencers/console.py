"""The `influencers` console script's module (pyproject.toml [project.scripts]; `python -m influencers` too): its
first lines make a Ctrl-C while the command loads end it at once, with one line and exit 130.

Python's own Ctrl-C is a KeyboardInterrupt raised in whatever code runs: while the command loads (the parser, then
grpc, SQLAlchemy and the services: a tenth of a second to two) that is some import, outside every handler of ours,
and it printed a traceback. Nothing is recorded before the command runs, so ending the process at once loses
nothing; once it is loaded, Ctrl-C raises KeyboardInterrupt again, for the command's `finally`s to stop what it
started. Only the command's entry imports this module (its import sets the handler): a test or a service that
imports the CLI keeps Python's own Ctrl-C.

Light on purpose: `_signal`, `os` and `time` are loaded before any code of ours runs; `signal` (it imports enum)
took ~10 ms more, in which a Ctrl-C still printed a traceback. What runs before these lines (the interpreter's
start, site-packages' .pth files, this package's __init__) is beyond them."""

from __future__ import annotations

import _signal
import os
import time

EXIT_CODE = 130  # 128 + SIGINT, as a shell says of a command stopped by Ctrl-C (influencers.cli.INTERRUPTED)
LOG_FORMAT_VARIABLE = "INFLUENCERS_LOG_FORMAT"  # json: stderr holds JSON lines only, this one too


def said_on_ctrl_c(log_format: str, now: float) -> str:
    """The line said when Ctrl-C ends the command while it loads: plain text, or with INFLUENCERS_LOG_FORMAT=json a
    record shaped as every other (event, level, logger, timestamp: ISO 8601 UTC of `now`, in seconds)."""
    if log_format.lower() != "json":
        return "\ninfluencers: interrupted\n"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    return f'{{"event": "interrupted", "level": "warning", "logger": "influencers.cli", "timestamp": "{stamp}"}}\n'


def _ended_by_ctrl_c(signum: int, frame: object) -> None:
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # a second Ctrl-C while this one is said: still one line
    os.write(2, said_on_ctrl_c(os.environ.get(LOG_FORMAT_VARIABLE, ""), time.time()).encode())
    os._exit(EXIT_CODE)


def interrupt_on_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt again (Python's own handler), if these lines had taken it over."""
    if _signal.getsignal(_signal.SIGINT) is _ended_by_ctrl_c:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)


# A Ctrl-C the process was started ignoring (a background job's) stays ignored.
if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, _ended_by_ctrl_c)


def main() -> int:
    """`influencers`: the command line's arguments, run as influencers.cli.main says (its exit codes too)."""
    from influencers.cli import main as command

    return command(loaded=interrupt_on_ctrl_c)
