"""One process per data dir: an exclusive lock on DATA/.lock, held while the stores are open.

Qdrant's local mode and the identity crop folder can only have one writer; a second `influencers run` on
the same folder must refuse at once, before it opens anything. The lock is `flock(2)`: the kernel drops it
when the holder dies, even by SIGKILL, so a crashed run never leaves a stale lock behind. The file keeps
the holder's pid, for the message only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".lock"


class DataDirBusy(RuntimeError):
    """Another live process holds the data dir's lock."""


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[Path]:
    """Holds DATA/.lock exclusively for the `with` block (creating `data_dir` if needed); raises
    DataDirBusy at once, without waiting, when another process holds it. Yields the lock file's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    # os.open's descriptors are not inherited by child processes (PEP 446): workers never hold the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise DataDirBusy(f"data dir {data_dir} is in use by another influencers process (pid {holder}); "
                              "stop it or choose another --data-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)  # closing the only descriptor releases the lock
