"""Identity replicas on one PostgreSQL database write one at a time (services/identity/writer_lock.py):
the lock of one replica keeps the other's writers out, is re-entrant in its holder, and is released by the
server when the holder's connection dies, as when its process is SIGKILLed."""

from __future__ import annotations

import threading
import time

from services.common.database import open_engine
from services.identity.writer_lock import WriterLock


def _try_enter(lock: WriterLock, entered: threading.Event) -> threading.Thread:
    def run() -> None:
        with lock:
            entered.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_second_replica_waits_until_the_first_replica_leaves_its_writes(postgres_url: str) -> None:
    first, second = WriterLock(open_engine(postgres_url)), WriterLock(open_engine(postgres_url))
    entered = threading.Event()
    with first, first:  # re-entrant: the holder's nested write does not wait for itself
        waiter = _try_enter(second, entered)
        assert not entered.wait(0.5)
    assert entered.wait(5.0)
    waiter.join(5.0)
    first.close()
    second.close()


def test_a_replica_that_dies_holding_the_lock_leaves_it_free(postgres_url: str) -> None:
    dying, survivor = WriterLock(open_engine(postgres_url)), WriterLock(open_engine(postgres_url))
    dying.__enter__()
    entered = threading.Event()
    waiter = _try_enter(survivor, entered)
    assert not entered.wait(0.3)
    started = time.monotonic()
    dying._conn.invalidate()  # the connection ends without an unlock, as a SIGKILL ends it
    assert entered.wait(5.0), "the server did not release the dead holder's lock"
    assert time.monotonic() - started < 5.0
    waiter.join(5.0)
    survivor.close()


def test_on_sqlite_the_lock_is_the_process_own() -> None:
    lock = WriterLock(open_engine("sqlite://"))
    with lock, lock:
        assert lock._conn is None


def test_a_waiter_whose_caller_went_away_stops_waiting_and_one_let_in_holds_the_lock_as_with_does() -> None:
    lock, gone, got = WriterLock(), threading.Event(), []

    def wait() -> None:
        with lock.taken_unless(gone.is_set, poll_s=0.01) as taken:
            got.append(taken)

    with lock:
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        time.sleep(0.05)
        gone.set()
        waiter.join(5.0)
        assert got == [False], "it stopped waiting while the lock was held"
    with lock.taken_unless(lambda: True) as taken, lock:  # free: taken at once, and re-entrant inside
        assert taken
    entered = threading.Event()
    assert _try_enter(lock, entered) and entered.wait(5.0), "left free afterwards"


def test_a_waiter_whose_caller_went_away_stops_waiting_for_another_replicas_lock_too(postgres_url: str) -> None:
    # Before, only this process's wait was cut short: a Recluster whose caller cancelled or passed its deadline
    # waited in pg_advisory_lock for as long as another replica wrote, holding its slot.
    other, lock = WriterLock(open_engine(postgres_url)), WriterLock(open_engine(postgres_url))
    gone, got = threading.Event(), []

    def wait() -> None:
        with lock.taken_unless(gone.is_set, poll_s=0.01) as taken:
            got.append(taken)

    with other:  # another replica writes
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        time.sleep(0.2)
        assert got == []
        gone.set()
        waiter.join(5.0)
        assert got == [False], "it stopped waiting while the other replica held the lock"
    with lock.taken_unless(lambda: False, poll_s=0.01) as taken, lock:  # free: taken, and re-entrant inside
        assert taken
        entered = threading.Event()
        waiter = _try_enter(other, entered)
        assert not entered.wait(0.3), "held across the replicas while taken"
    assert entered.wait(5.0), "left free afterwards"
    waiter.join(5.0)
    other.close()
    lock.close()
