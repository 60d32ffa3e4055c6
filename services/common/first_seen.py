"""How long the longest-standing member of a changing set has been in it, from successive readings of the set:
ingest's jobs that have every row's outcome but have not ended (influencers_job_finalising_seconds). A gauge of
that age fires an alert on one job that does not end, whatever the other jobs do; a count of rows summed over
every job cannot (another job's pending rows hid it).

The age runs from the first reading that held the member, on this process's clock: a process started later sees
it from its own start (so a fleet's dashboards and alerts take the `max` over replicas). Members leave as soon
as a reading no longer holds them, so the memory is that of the set's current members."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable


class FirstSeen:
    """Remembers when each member of a set was first read in it (`clock`: seconds, monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since: dict[str, float] = {}
        self._lock = threading.Lock()  # a scrape and the metrics cache's refresh thread may read at once

    def oldest_age(self, members: Iterable[str]) -> float:
        """Seconds since the first reading that held the longest-standing of `members` (the set now), 0 when
        it is empty; members absent from `members` are forgotten (one that comes back starts again at 0)."""
        now = self._clock()
        with self._lock:
            self._since = {m: self._since.get(m, now) for m in members}
            return max((now - t for t in self._since.values()), default=0.0)
