"""Time spent by stage, as wall time and as CPU time of the calling thread.

A stage's wall time says how long a video waited for it; its CPU time says what it cost, whatever else
shared the cores meanwhile (on a busy 2-core machine a stage's wall time can be twice its CPU time). Both
travel in the contract's `stage_durations` maps: a stage's wall time under its name, its CPU time under
the name with CPU_SUFFIX (docs/observability.md lists the names).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

CPU_SUFFIX = ".cpu"


class StageClock:
    """Accumulates wall and CPU seconds by stage name. `lap(stage, since)` adds the time from `since` (a
    mark from `mark()` or the previous lap) to `stage` and returns the new mark."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    @staticmethod
    def mark() -> tuple[float, float]:
        return time.perf_counter(), time.thread_time()

    def lap(self, stage: str, since: tuple[float, float]) -> tuple[float, float]:
        now = self.mark()
        self.wall[stage] += now[0] - since[0]
        self.cpu[stage] += now[1] - since[1]
        return now

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        """Adds the time of the `with` block to `stage`, however the block ends."""
        since = self.mark()
        try:
            yield
        finally:
            self.lap(stage, since)

    def merged(self) -> dict[str, float]:
        """Wall seconds by stage, and CPU seconds under each stage's name + CPU_SUFFIX."""
        return {**self.wall, **{k + CPU_SUFFIX: v for k, v in self.cpu.items()}}


def split_cpu(stages: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(wall seconds by stage, CPU seconds by stage) of a merged map."""
    wall = {k: v for k, v in stages.items() if not k.endswith(CPU_SUFFIX)}
    cpu = {k[: -len(CPU_SUFFIX)]: v for k, v in stages.items() if k.endswith(CPU_SUFFIX)}
    return wall, cpu
