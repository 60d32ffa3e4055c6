"""A command stopped by a signal: SIGTERM as an exception that unwinds as Ctrl-C does, and the exit code of each.

SIGTERM is a supervisor's stop, not a Ctrl-C: a command stopped in its work exits 143 (128 + SIGTERM, as a shell says
of a command the signal ended), 130 on Ctrl-C; services being started or served stop with 0 (command.py)."""

from __future__ import annotations

from influencers.cli import INTERRUPTED, TERMINATED
from services.common import stop_signal


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so that every `finally` stops its services and workers. A
    BaseException, as KeyboardInterrupt is: an `except Exception` on the way (the face store's, around the
    engine's open) would take it for that code's own failure and report it as such."""


def raise_terminated(signum: int, frame: object) -> None:
    """The handler of SIGTERM while a command runs."""
    if stop_signal.deferred(signum):  # starting worker processes: raised again once they are up
        return
    raise Terminated


def signal_name(stop: BaseException) -> str:
    """"SIGTERM" for Terminated, "Ctrl-C" for KeyboardInterrupt: the words of the line that says what stopped it."""
    return "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"


def exit_code(stop: BaseException) -> int:
    """The exit code of a command that `stop` (Terminated or KeyboardInterrupt) ended in its work."""
    return TERMINATED if isinstance(stop, Terminated) else INTERRUPTED
