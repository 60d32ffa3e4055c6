"""Identity replicas on one PostgreSQL database write one at a time (services/identity/writer_lock.py):
the lock of one replica keeps the other's writers out, is re-entrant in its holder, and is released by the
server when the holder's connection dies, as when its process is SIGKILLed."""

from __future__ import annotations

import threading
import time

from influencers.v1 import common_pb2, identity_pb2
from services.common.database import open_engine
from services.identity.feed import ChangeFeed
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


def test_a_recluster_on_one_replica_and_corrections_on_another_take_the_locks_in_one_order(postgres_url: str) -> None:
    """Replica A reclusters (its writer lock, then the feed's append lock for a change of many pages, a trim, and
    an erasure's redaction with its VACUUM FULL) while replica B writes corrections and a follower reads pages:
    each waits for the writer lock before any lock of the feed, so nothing waits in a cycle, and each write's
    changes stand together in one gapless order."""
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engines = [open_engine(url) for _ in range(3)]
    feeds = [ChangeFeed(engines[0], retention=40), ChangeFeed(engines[1], retention=40), ChangeFeed(engines[2])]
    locks = [WriterLock(engines[0]), WriterLock(engines[1])]
    written: dict[str, list[list[int]]] = {"recluster": [], "correction": []}
    failures: list[BaseException] = []
    done = threading.Event()

    def recluster() -> None:  # ChangeWriter.recluster / erase under replica A's lock
        for k in range(15):
            with locks[0]:
                written["recluster"].append(feeds[0].append([_change(f"r{k}-{p}") for p in range(3)]))
                feeds[0].trim()
                if k % 5 == 4:
                    feeds[0].redact("inf_0000000001")

    def correct() -> None:  # ChangeWriter.correct under replica B's lock
        for k in range(30):
            with locks[1]:
                written["correction"].append(feeds[1].append([_change(f"c{k}")]))

    def follow() -> None:  # ListChanges, as analytics' leader calls it
        while not done.is_set():
            feeds[2].read_page(max(0, feeds[2].head() - 5), 10)

    def run(work) -> threading.Thread:
        def guarded() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - the test reports it below
                failures.append(exc)
        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        return thread

    writers = [run(recluster), run(correct)]
    reader = run(follow)
    for thread in writers:
        thread.join(60.0)
    done.set()
    reader.join(10.0)
    try:
        assert not any(t.is_alive() for t in (*writers, reader)), "a writer or the reader is stuck waiting for a lock"
        assert not failures, failures
        for positions in written["recluster"]:  # a recluster's pages are consecutive: no correction between them
            assert positions == list(range(positions[0], positions[0] + len(positions)))
        every = sorted(p for batch in (*written["recluster"], *written["correction"]) for p in batch)
        assert every == list(range(every[0], every[0] + len(every)))
    finally:
        for lock in locks:
            lock.close()
        for engine in engines:
            engine.dispose()


def _change(video_id: str) -> identity_pb2.Change:
    return identity_pb2.Change(kind=identity_pb2.CHANGE_KIND_RECLUSTER, videos=[common_pb2.VideoAppearances(
        video_id=video_id, appearances=[common_pb2.Appearance(influencer_id="inf_0000000001", face_ref="x.jpg")])])


def test_a_recluster_waiting_behind_back_to_back_writers_of_other_replicas_is_let_in_within_a_few_writes(
        postgres_url: str) -> None:
    # Before, a waiter tried pg_try_advisory_lock every poll: three replicas' writers queued in pg_advisory_lock
    # handed the lock to one another at each release, so it was never free when the Recluster tried, and it waited
    # for as long as they wrote. Now it waits in the server's queue, and is let in after those ahead of it.
    writers = [WriterLock(open_engine(postgres_url)) for _ in range(3)]
    lock, done, writes = WriterLock(open_engine(postgres_url)), threading.Event(), []

    def write(writer: WriterLock) -> None:
        while not done.is_set():
            with writer:
                writes.append(1)
                time.sleep(0.02)

    threads = [threading.Thread(target=write, args=(w,), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    try:
        while len(writes) < 10:  # the writers hand the lock on to one another
            time.sleep(0.01)
        started = time.monotonic()
        with lock.taken_unless(lambda: time.monotonic() > started + 10.0, poll_s=0.01) as taken:
            waited = time.monotonic() - started
            seen = len(writes)
            time.sleep(0.1)
            assert taken, "the Recluster gave up after 10 s behind writers of 0.02 s each"
            assert len(writes) == seen, "the writers wrote while the Recluster held the lock"
        assert waited < 2.0, f"the Recluster waited {waited:.1f} s behind writers of 0.02 s each"
    finally:
        done.set()
        for thread in threads:
            thread.join(5.0)
        for each in (*writers, lock):
            each.close()


def test_in_one_process_a_recluster_waiting_behind_back_to_back_writer_threads_is_let_in_after_those_ahead_of_it(
) -> None:
    # Before, the process's own lock was a threading.RLock polled with acquire(timeout): a writer thread that gave
    # it back and took it again at once won nearly every time, and a Recluster behind N such threads of the same
    # process waited for as long as they wrote. Now waiters are let in in the order they came.
    lock, done, writes, writers = WriterLock(), threading.Event(), [], 4

    def write() -> None:
        while not done.is_set():
            with lock:
                writes.append(1)
                time.sleep(0.005)

    threads = [threading.Thread(target=write, daemon=True) for _ in range(writers)]
    for thread in threads:
        thread.start()
    try:
        while len(writes) < 20:  # the writers hand the lock on to one another
            time.sleep(0.01)
        started, asked = time.monotonic(), len(writes)
        with lock.taken_unless(lambda: time.monotonic() > started + 10.0) as taken:
            ahead = len(writes) - asked
            seen = len(writes)
            time.sleep(0.05)
            assert taken, "the Recluster gave up after 10 s behind writers of 5 ms each"
            assert len(writes) == seen, "the writers wrote while the Recluster held the lock"
        assert ahead <= writers, f"{ahead} writes went in ahead of the Recluster, {writers} threads were waiting"
    finally:
        done.set()
        for thread in threads:
            thread.join(5.0)


def test_writers_of_one_process_are_let_in_in_the_order_they_asked_and_one_that_left_gives_up_its_place() -> None:
    lock, order, gone = WriterLock(), [], threading.Event()

    def write(name: str) -> None:
        with lock.taken_unless(gone.is_set if name == "left" else lambda: False, poll_s=0.01) as taken:
            if taken:
                order.append(name)

    with lock:
        threads = []
        for name in ("a", "left", "b", "c"):
            threads.append(threading.Thread(target=write, args=(name,), daemon=True))
            threads[-1].start()
            time.sleep(0.05)  # each asks after the one before
        gone.set()
        threads[1].join(5.0)
    for thread in threads:
        thread.join(5.0)
    assert order == ["a", "b", "c"]
