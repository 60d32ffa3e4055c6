"""Sections a stop signal waits for: a SIGTERM that lands while worker processes are being started would
cut the start in two, and a half-started pool leaves its children reading a closed pipe and the
interpreter's exit printing tracebacks. The process's handler asks `deferred` first; the signal is raised
again as the last open section closes. Process-wide, as signals are."""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_lock = threading.RLock()  # re-entrant: the handler runs on the main thread, which may hold it
_open = 0
_pending: set[int] = set()  # signals that came while a section was open, each raised once


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """A section that a stop signal (handled through `deferred`) waits for, in any thread."""
    global _open
    with _lock:
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            pending = sorted(_pending) if _open == 0 else []
            if not _open:
                _pending.clear()
        for signum in pending:
            signal.raise_signal(signum)


def deferred(signum: int) -> bool:
    """For a signal handler: True when a section is open, and `signum` is raised again once none is."""
    with _lock:
        if _open:
            _pending.add(signum)
            return True
        return False
