"""Emptying SQLite's write-ahead log, so that bytes a store deleted or overwrote (an erased person, a signed link's
secret) are read in no file. `secure_delete` (database.py) zeroes what a row leaves in the database file's pages,
but the log keeps every page image written since its last reset: the row as it was, in each write that touched
its page, until a checkpoint copies the pages back and a later write starts the log over, past which the old
images stay in the file until overwritten. A checkpoint in TRUNCATE mode copies every page back and cuts the file
to nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

BUSY_WAIT_MS = 200  # how long the checkpoint waits for a reader or writer of another connection, not SQLITE_TIMEOUT_S


def truncate_log(engine: Engine, busy_wait_ms: int | None = None) -> bool:
    """Checkpoints `engine`'s SQLite database and truncates its log: True once the log is empty (or the engine is
    no SQLite one: nothing to do), False when a reader or writer held it (`busy_wait_ms`: how long to wait for them,
    None: the connection's own timeout). Raises SQLAlchemy's errors."""
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        cursor = raw.cursor()
        before = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        if busy_wait_ms is not None:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_wait_ms)}")
        try:
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(before)}")  # the pooled connection as it was
        return not busy
    finally:
        raw.close()


class LogScrubber:
    """Empties a SQLite store's log after writes that removed a secret: at once when the last emptying is
    `every_s` seconds old or more, else at the next such write or `flush` (a caller's natural end: a job's)
    after it; a log a reader held is emptied at the next of them. Failures are logged, not raised: the secret is
    out of the tables already, and the next call tries again. Thread-safe; nothing to do on PostgreSQL."""

    def __init__(self, engine: Engine, every_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.every_s = every_s
        self.clock = clock
        self._guard = threading.Lock()
        self._owed = 0  # removals committed that no finished emptying has covered yet
        self._last = float("-inf")

    def removed(self) -> None:
        """A write just committed removed a secret: the log is emptied now, or owed."""
        if self.engine.dialect.name != "sqlite":
            return
        with self._guard:
            self._owed += 1
            due = self.clock() - self._last >= self.every_s
        if due:
            self.flush()

    def flush(self) -> None:
        """Empties the log now if a removal is owed."""
        with self._guard:
            covered = self._owed  # committed before the checkpoint starts: it covers them
            if not covered:
                return
            self._last = self.clock()
        try:
            emptied = truncate_log(self.engine, BUSY_WAIT_MS)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not empty the log of %s: %s", self.engine.url.database, str(exc).splitlines()[0])
            return
        if emptied:
            with self._guard:
                self._owed -= covered
