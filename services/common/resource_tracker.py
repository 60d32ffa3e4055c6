"""multiprocessing's resource tracker, started so that what it writes is a line of the process's log.

The tracker is a separate interpreter (`python -c "...resource_tracker import main; main(fd)"`) that unlinks the
semaphores a process leaves behind when it dies: after a SIGKILL of ingest or identity it warns "resource_tracker:
There appear to be N leaked semaphore objects to clean up at shutdown" on the shared stderr, in Python's raw warning
format between the JSON lines. Python gives no hook into that interpreter, so the entry point starts the tracker
itself, before anything needs it, running `main` below: the same tracker with the process's logging set up (its
warnings become log records). Every child (spawned, forked, or forked by the fork server) is handed this tracker.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from multiprocessing import resource_tracker, spawn, util
from pathlib import Path

from services.common.logs import LogSetup, adopt_setup

_ROOT = str(Path(__file__).resolve().parents[2])  # the folder `services` is imported from
_IGNORED = {signal.SIGINT, signal.SIGTERM}  # as the stdlib: ignored by the tracker, blocked until it ignores them
_TRACKER_ATTRS = ("_lock", "_fd", "_pid")  # private: the stdlib's tracker reads them (3.8 to 3.13)
_UTIL_FUNCTIONS = ("_args_from_interpreter_flags", "spawnv_passfds")
log = logging.getLogger(__name__)


def start_resource_tracker(setup: LogSetup, tracker: object | None = None) -> bool:
    """Starts this process's resource tracker logging as `setup` says. False (nothing done) when one is running
    already; False with a warning when this Python lacks what is relied on (the tracker's `_lock`, `_fd`, `_pid`,
    as 3.8 to 3.13 have them, and multiprocessing.util's helpers) or the start fails: the stdlib then starts its
    own when first needed, and its warnings stay raw text. Start-up goes on either way. `tracker`: the stdlib's
    (multiprocessing.resource_tracker._resource_tracker) unless given."""
    tracker = tracker if tracker is not None else getattr(resource_tracker, "_resource_tracker", None)
    if missing := _missing(tracker):
        log.warning("multiprocessing's resource tracker is started as Python starts it: this Python lacks %s; its "
                    "warnings (leaked semaphores after a kill) are raw text", ", ".join(missing))
        return False
    with tracker._lock:  # type: ignore[union-attr]
        if tracker._fd is not None:  # type: ignore[union-attr]
            return False
        try:
            started = _spawn(setup)
        except (OSError, ValueError) as exc:  # no executable, no fds left: the stdlib's tracker will say so itself
            log.warning("multiprocessing's resource tracker is started as Python starts it: %s", exc)
            return False
        tracker._fd, tracker._pid = started  # type: ignore[union-attr]
    return True


def _missing(tracker: object | None) -> list[str]:
    """The names this module relies on that this Python lacks (empty: all there)."""
    if tracker is None:
        return ["multiprocessing.resource_tracker._resource_tracker"]
    missing = [f"ResourceTracker.{name}" for name in _TRACKER_ATTRS if not hasattr(tracker, name)]
    return missing + [f"multiprocessing.util.{name}" for name in _UTIL_FUNCTIONS if not hasattr(util, name)]


def _spawn(setup: LogSetup) -> tuple[int, int]:
    """A tracker process running `main` below: the write end of its pipe and its pid."""
    exe = spawn.get_executable()
    try:
        fds = [sys.stderr.fileno()]
    except (AttributeError, ValueError, OSError):  # a stderr with no file behind it: the tracker's goes nowhere
        fds = []
    read, write = os.pipe()
    try:
        # Formatted with the pipe's fd in one go: a checkout path holding "%" stays as it is.
        command = (f"import sys; sys.path.insert(0, {_ROOT!r}); from services.common.resource_tracker import "
                   f"main; main({read}, {setup.fmt!r}, {setup.level!r}, {setup.service!r})")
        args = [exe, *util._args_from_interpreter_flags(), "-c", command]  # type: ignore[attr-defined]
        signal.pthread_sigmask(signal.SIG_BLOCK, _IGNORED)
        try:
            pid = util.spawnv_passfds(exe, args, [*fds, read])  # type: ignore[attr-defined]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _IGNORED)
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    return write, pid


def main(fd: int, fmt: str, level: str, service: str) -> None:
    """The tracker's process: the stdlib's tracker reading `fd`, its warnings logged in `fmt`."""
    adopt_setup(LogSetup(fmt, level, service))
    resource_tracker.main(fd)
