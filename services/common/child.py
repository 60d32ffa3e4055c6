"""Worker processes that never outlive the process that started them (identity's face workers, ingest's
decoders): a SIGKILLed parent leaves no orphans behind."""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0


def die_with_parent(parent_pid: int) -> None:
    """In a worker: SIGKILL when the parent dies. PR_SET_PDEATHSIG acts at once but follows the parent
    *thread* that spawned the worker; the watchdog thread follows the parent process, within a second."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass

    def watchdog() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # parent gone (re-parented to init or a subreaper): nothing will ever collect our results

    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def die_with_process(pid: int) -> None:
    """In a worker that is not `pid`'s child (one forked by multiprocessing's fork server): exits at once
    when process `pid` ends, watched through a pidfd (a thread blocked on it: no polling)."""
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except ProcessLookupError:  # gone already
        os._exit(1)
    except OSError:  # a kernel before 5.3: polled instead
        pidfd = None

    def watchdog() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the process has ended
        else:
            while _exists(pid):
                time.sleep(PARENT_POLL_S)
        os._exit(1)  # nothing will ever collect our results

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: the pid was reused, ours is gone
        return False
    return True


def how_it_ended(exitcode: int | None) -> str:
    """A dead worker's end in words: "killed by SIGSEGV", "exit code 1", or "" when unknown."""
    if exitcode is None:
        return ""
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Stops a process pool now: queued calls are cancelled, each worker gets SIGTERM, then SIGKILL once
    `grace_s` has passed for all of them."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
