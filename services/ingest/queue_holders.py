"""Whether this process is the only one with a SQLite job queue open, so that the leases left in it by
processes that died (a SIGKILLed `influencers run`) are taken at once instead of waited out.

Every process opening a queue on a SQLite file holds a shared `flock(2)` on `<file>.holders` while it runs.
One that gets the lock exclusively at start has the file to itself: every lease in it belongs to a process
that is gone. The kernel drops the lock when its holder dies, even by SIGKILL, so a dead process never looks
alive. PostgreSQL queues are shared by replicas on other machines, which no local lock sees: their leases
are always waited out.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

SUFFIX = ".holders"


class QueueHolders:
    """This process's hold on the SQLite queue file `database` (None: not a local file, nothing held).
    `alone` says whether no other live process held it when this one started."""

    def __init__(self, database: Path | None) -> None:
        self.alone = False
        self._fd: int | None = None
        if database is None:
            return
        path = Path(f"{database}{SUFFIX}")
        try:
            # os.open's descriptors are not inherited by programs run (PEP 446).
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only folder: leases are waited out, as elsewhere
            log.warning("cannot open %s (%s): leases of a process that died are waited out", path, exc.strerror)
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.alone = True
        except BlockingIOError:
            pass

    def share(self) -> None:
        """Lets other processes open the queue too (after the dead leases were freed); waits for one that is
        itself checking whether it is alone."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the only descriptor: the lock goes with it
            self._fd = None


def sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite `engine`; None for PostgreSQL or an in-memory database."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database)
