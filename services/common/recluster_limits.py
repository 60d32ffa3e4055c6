"""Identity's limits on Recluster, which its server keeps and its callers (ingest's batch, analytics' follower,
the CLI) meet: the videos one call names, and the calls it runs at once. Each call holds a server thread while
it waits for the registry's lock, and its whole answer in memory: 30 calls at once kept a health check waiting 2 s.

A call past the limit is refused at once, RESOURCE_EXHAUSTED with a message starting `BUSY`; the callers here
call again after a pause (`streamed_when_free`). A full disk is RESOURCE_EXHAUSTED too, and is not called again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc

MAX_RECLUSTER_VIDEOS = 100_000  # distinct video ids in one call: a job's (INFLUENCERS_MAX_JOB_ROWS' default)
MAX_RECLUSTERS = 4  # calls running at once in one identity process (two ingest and two analytics replicas')
BUSY = "identity is busy"
BUSY_PAUSES_S = (0.2, 2.0)  # pauses before calling again: doubling from the first to the last

T = TypeVar("T")


def busy_message(running: int) -> str:
    """The refusal of a call past MAX_RECLUSTERS, naming the limit and what to do."""
    return (f"{BUSY}: it runs {running} Recluster calls at once, its limit; each waits for the others, so call "
            "again in a moment")


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is identity's refusal of a Recluster past its limit of calls at once (busy_message)."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    return (callable(code) and code() == grpc.StatusCode.RESOURCE_EXHAUSTED and callable(details)
            and str(details() or "").startswith(BUSY))


def streamed_when_free(call: Callable[[float], Iterator[T]], timeout_s: float,
                       pauses_s: tuple[float, float] = BUSY_PAUSES_S) -> Iterator[T]:
    """The messages of `call(seconds left)`, a server-streaming call, called again after a pause for as long as
    identity answers that it is busy (is_busy) before its first message, within `timeout_s` seconds in all;
    then that refusal is raised. Any other error is raised at once."""
    deadline = time.monotonic() + timeout_s
    pause, last = pauses_s
    while True:
        stream = call(max(0.0, deadline - time.monotonic()))
        try:
            first = next(stream)
        except StopIteration:
            return
        except grpc.RpcError as exc:
            left = deadline - time.monotonic()
            if not is_busy(exc) or left <= 0:
                raise
            time.sleep(min(pause, left))
            pause = min(last, pause * 2)
            continue
        yield first
        yield from stream
        return
