"""multiprocessing's resource tracker, started so that what it writes is a line of the process's log.

The tracker is a separate interpreter (`python -c "...resource_tracker import main; main(fd)"`) that unlinks the
semaphores a process leaves behind when it dies: after a SIGKILL of ingest or identity it warns "resource_tracker:
There appear to be N leaked semaphore objects to clean up at shutdown" on the shared stderr, in Python's raw warning
format between the JSON lines. Python gives no hook into that interpreter, so the entry point starts the tracker
itself, before anything needs it, running `main` below: the same tracker with the process's logging set up (its
warnings become log records). Every child (spawned, forked, or forked by the fork server) is handed this tracker.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing import resource_tracker, spawn, util
from pathlib import Path

from services.common.logs import LogSetup, adopt_setup

_ROOT = str(Path(__file__).resolve().parents[2])  # the folder `services` is imported from
_IGNORED = {signal.SIGINT, signal.SIGTERM}  # as the stdlib: ignored by the tracker, blocked until it ignores them


def start_resource_tracker(setup: LogSetup) -> bool:
    """Starts this process's resource tracker logging as `setup` says. False (nothing done) when one is running
    already, or this Python's tracker lacks the attributes relied on (`_lock`, `_fd`, `_pid`, as 3.8 to 3.12):
    the stdlib then starts its own when first needed, and its warnings stay raw text."""
    tracker = resource_tracker._resource_tracker
    if not all(hasattr(tracker, name) for name in ("_lock", "_fd", "_pid")):
        return False
    with tracker._lock:
        if tracker._fd is not None:
            return False
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
        tracker._fd, tracker._pid = write, pid
    return True


def main(fd: int, fmt: str, level: str, service: str) -> None:
    """The tracker's process: the stdlib's tracker reading `fd`, its warnings logged in `fmt`."""
    adopt_setup(LogSetup(fmt, level, service))
    resource_tracker.main(fd)
