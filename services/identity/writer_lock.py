"""The identity writers' lock: one write to the face store and the feed at a time, across every identity
replica that shares them.

In one process it is a re-entrant thread lock whose waiters are let in in the order they came (fair_lock.py).
With PostgreSQL (identity replicas on one Qdrant server share the feed's database, INFLUENCERS_DATABASE_URL)
the outermost holder also takes a session advisory lock on a connection of its own, so two replicas never
assign the same new person two ids at once, and a correction and an assignment touching the same influencer
apply, and enter the feed, in one order. The server releases the advisory lock when the holder's connection
ends, so a SIGKILLed replica never leaves it held. Only the writes are serialised: detection and encoding, the
costly part of a video, run outside.

Lock order, one for every write (an assignment, a correction, a Recluster, an erasure) on every replica:
1. this thread lock; 2. the replicas' advisory lock (WRITER_LOCK_KEY, a session lock on a connection of its own,
   held with no transaction open); 3. the face store's write (Qdrant: no SQL lock); 4. the feed's append, one
   transaction: pg_advisory_xact_lock(feed._APPEND_LOCK) first, then its rows; a trim likewise (the key, then
   the head read, the deletions and the trimmed mark); 5. an erasure's redaction: row updates in transactions of
   their own, then VACUUM FULL of identity_changes (ACCESS EXCLUSIVE) once they are committed. A reader
   (ListChanges, a snapshot) holds ACCESS SHARE for one read and waits for nothing meanwhile. Nothing takes a
   lock of a lower number while holding one of a higher, so no two writers wait for each other in a cycle
   (tests/integration/test_identity_writer_lock.py, two replicas on a real server).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.common.database import is_postgres
from services.identity.fair_lock import FairLock

log = logging.getLogger(__name__)

WRITER_LOCK_KEY = 0x1DE_417E  # pg_advisory_lock key of identity's writers (the feed's append key differs)


class WriterLock:
    """Re-entrant; `engine`: the feed's engine (its PostgreSQL server holds the lock shared by replicas)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._local = FairLock()  # its depth tells the outermost taking, which takes the replicas' lock too
        self._engine = engine if engine is not None and is_postgres(engine) else None
        self._conn: Connection | None = None

    def __enter__(self) -> WriterLock:
        self._local.acquire()
        try:
            if self._outermost():
                self._take_shared()
        except BaseException:
            self._local.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if self._outermost():
                self._give_back_shared()
        finally:
            self._local.release()

    @contextlib.contextmanager
    def taken_unless(self, stopped: Callable[[], bool], poll_s: float = 0.1) -> Iterator[bool]:
        """`with lock.taken_unless(stopped) as taken:` holds the lock as `with lock:` does, waiting for it while
        `stopped()` is false (asked every `poll_s` seconds), in turn with this process's other writers (first come,
        first served); `taken` is False, the lock not held, once it is true first: a caller that went away stops
        waiting and gives its place up. On PostgreSQL the replicas' advisory lock is waited for so
        too: in the server's queue (pg_advisory_lock, served in order, so writers that keep re-taking it cannot
        starve a Recluster as a pg_try_advisory_lock every `poll_s` was), cancelled once `stopped()`."""
        if not self._local.acquire(stopped, poll_s):
            yield False
            return
        try:
            if self._outermost() and not self._take_shared(stopped, poll_s):
                yield False
                return
            try:
                yield True
            finally:
                if self._outermost():
                    self._give_back_shared()
        finally:
            self._local.release()

    def _outermost(self) -> bool:
        """Whether the thread holding the lock holds it once (its outermost `with`), with replicas to share it with:
        then it takes the replicas' advisory lock after the thread lock, and gives it back before."""
        return self._local.depth == 1 and self._engine is not None

    def _take_shared(self, stopped: Callable[[], bool] | None = None, poll_s: float = 0.1) -> bool:
        """Takes the replicas' advisory lock, waiting for it in the server's queue: True once taken; with `stopped`,
        False (not taken) once `stopped()` (asked every `poll_s` seconds) while it waits."""
        for attempt in (1, 2):  # a connection the server closed (restart, idle timeout) is replaced once
            try:
                if self._conn is None:
                    self._conn = self._engine.connect()  # type: ignore[union-attr]
                if stopped is None:
                    self._conn.execute(sa.select(sa.func.pg_advisory_lock(WRITER_LOCK_KEY)))
                elif not self._conn.execute(sa.select(sa.func.pg_try_advisory_lock(WRITER_LOCK_KEY))).scalar():
                    # Not free (held, or others queue for it ahead). Queue too, unless the caller already went.
                    self._conn.commit()
                    if stopped() or not self._queue_unless(stopped, poll_s):
                        return False
                self._conn.commit()  # a session lock outlives the transaction; no transaction stays open
                return True
            except sa.exc.DBAPIError:
                self._drop_connection()
                if attempt == 2:
                    raise
        return False  # not reached: the second attempt returns or raises

    def _queue_unless(self, stopped: Callable[[], bool], poll_s: float) -> bool:
        """Waits in pg_advisory_lock, so that the server lets waiters in in the order they came; a watcher asks
        `stopped()` every `poll_s` seconds and once it is true cancels the wait: False, the connection ended."""
        conn = self._conn
        assert conn is not None
        guard, waiting, cancelled, ended = threading.Lock(), [True], [False], threading.Event()

        def watch() -> None:
            while not ended.wait(poll_s):
                if stopped():
                    with guard:  # never cancels once the wait returned: the cancel could hit a later statement
                        if waiting[0]:
                            cancelled[0] = True  # even if the cancel cannot be sent: a lock got later is given back
                            try:
                                conn.connection.dbapi_connection.cancel_safe()  # type: ignore[union-attr]
                            except Exception as exc:  # noqa: BLE001 - psycopg's or the socket's; the wait goes on
                                log.warning("could not cancel a wait for identity's writer lock (%s); it is given "
                                            "back once taken", exc)
                    return

        watcher = threading.Thread(target=watch, name="writer-lock-wait", daemon=True)
        watcher.start()
        try:
            conn.execute(sa.select(sa.func.pg_advisory_lock(WRITER_LOCK_KEY)))
        except sa.exc.DBAPIError:
            if not cancelled[0]:
                raise
        finally:
            with guard:
                waiting[0] = False
            ended.set()
            watcher.join()
        if cancelled[0]:
            # Taken or not before the cancel landed: ending the session frees whatever it holds, and its place.
            self._drop_connection()
            return False
        return True

    def _give_back_shared(self) -> None:
        try:
            self._conn.execute(sa.select(sa.func.pg_advisory_unlock(WRITER_LOCK_KEY)))  # type: ignore[union-attr]
            self._conn.commit()  # type: ignore[union-attr]
        except sa.exc.DBAPIError:
            # The connection is gone, and the server released the lock with it.
            log.warning("identity's writer lock connection was lost while held; it is released with it")
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except sa.exc.DBAPIError:
                pass
            self._conn = None

    def close(self) -> None:
        """Ends the lock's connection (the process is stopping)."""
        with self._local:
            self._drop_connection()
