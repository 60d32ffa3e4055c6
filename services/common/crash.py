"""Named points where a test may SIGKILL this process, to show that what a kill interrupts there is finished
or undone at the next start (the batches' kills need no hook: they are timed from outside).

INFLUENCERS_CRASH_AT=<point>[,<point>...] (tests only; not a setting: nothing else reads it)."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """SIGKILLs this process when INFLUENCERS_CRASH_AT names `name`."""
    if name in os.environ.get("INFLUENCERS_CRASH_AT", "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
