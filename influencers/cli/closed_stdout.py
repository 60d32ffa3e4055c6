"""Our reader left (`influencers review --all | head`, `influencers --version | true`): nothing more to say."""

from __future__ import annotations

import os
import sys


def silence_stdout() -> None:
    """Points stdout at /dev/null, so that the interpreter's last flush of what is still buffered for a closed
    pipe fails on nothing (it would print 'Exception ignored ... BrokenPipeError' and exit 120)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
