"""A re-entrant thread lock that lets its waiters in in the order they asked (a ticket queue).

threading.RLock promises no order: a thread that gives the lock back and asks again at once nearly always wins it
over the threads already waiting, so a few writer threads taking turns back to back could keep a Recluster of the
same process out for as long as they wrote. Here each waiter takes a ticket, and the lock, once free, goes to the
oldest ticket; a waiter that stops waiting (its caller gone) gives its ticket back.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType


class FairLock:
    """Re-entrant: its holder may take it again (and gives it back as often). Waiters are served first come,
    first served."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None  # the holder's thread id
        self._depth = 0
        self._waiting: deque[int] = deque()  # tickets of the threads waiting, oldest first
        self._tickets = 0

    def acquire(self, stopped: Callable[[], bool] | None = None, poll_s: float = 0.1) -> bool:
        """Takes the lock, waiting for those who asked before; True once held. With `stopped` (asked every `poll_s`
        seconds while waiting, under this lock's own guard: keep it cheap), False, not held, once it is true first;
        a free lock is taken without asking it."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._waiting:
                self._owner, self._depth = me, 1
                return True
            ticket = self._tickets
            self._tickets += 1
            self._waiting.append(ticket)
            try:
                while self._owner is not None or self._waiting[0] != ticket:
                    self._cond.wait(poll_s if stopped is not None else None)
                    if stopped is not None and (self._owner is not None or self._waiting[0] != ticket) and stopped():
                        return False
                self._owner, self._depth = me, 1
                return True
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()  # a waiter that left may have been first in line: the next one looks

    @property
    def depth(self) -> int:
        """How many times the holder has taken it and not given it back (0 when free). Read by the holder, it is
        its own: 1 in its outermost taking."""
        return self._depth

    def release(self) -> None:
        """Gives back one taking; the last one lets the oldest waiter in. RuntimeError when not held by this thread."""
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a FairLock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()
