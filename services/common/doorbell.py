"""A doorbell for threads that poll a store: the code of this process that makes work for them rings it, and they
wake at once instead of at their next poll. The poll stays, slower, for what other processes do (another replica's
job, a lease running out), which rings nothing here. Its users: ingest's job queue (its worker threads and
progress watchers, services/ingest/jobs.py) and analytics' feed follower (identity's appends in the same process,
services/analytics/feed.py `FollowerThread.wake`), which had an Event of its own for the same job.

A ring between a thread's look at the store and its wait is not lost: the thread notes the bell's count before it
looks (`mark`), and its wait ends at once when the count has moved since (an Event cleared by one waiter could
swallow the ring another had not yet waited for)."""

from __future__ import annotations

import threading


class Doorbell:
    """Counts rings; `wait` sleeps until a ring after a `mark`, or the timeout."""

    def __init__(self) -> None:
        self._rung = 0
        self._changed = threading.Condition()

    def mark(self) -> int:
        """The count of rings so far: take it before looking at the store, and wait with it."""
        with self._changed:
            return self._rung

    def ring(self) -> None:
        """Wakes every thread waiting (safe from any thread)."""
        with self._changed:
            self._rung += 1
            self._changed.notify_all()

    def wait(self, mark: int, timeout_s: float) -> bool:
        """Sleeps until a ring after `mark` (at once if there was one already), or `timeout_s` seconds; True when
        rung."""
        with self._changed:
            return self._changed.wait_for(lambda: self._rung != mark, timeout_s)
