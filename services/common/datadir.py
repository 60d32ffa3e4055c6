"""The data dir: made usable (or refused in one line) at start, one owning process at a time, and a
scratch folder per process for downloads that a killed process cannot leak.

One process per data dir: an exclusive lock on DATA/.lock, held while the stores are open. Qdrant's local
mode and the identity crop folder can only have one writer; a second `influencers run` on the same folder
must refuse at once, before it opens anything. The lock is `flock(2)`: the kernel drops it when the holder
dies, even by SIGKILL, so a crashed run never leaves a stale lock behind. The file keeps the holder's pid,
for the message only.

Downloads go to DATA/tmp/downloads/<one folder per process>, each folder held by an flock on its `.lock`
the same way: a process starting up removes every folder whose lock nobody holds (its owner died), so a
SIGKILL leaks a download only until the next start, and never into /tmp.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

from services.common.boundary import brief
from services.common.damage import DISK_FULL, DiskFull

LOCK_NAME = ".lock"
DOWNLOADS = Path("tmp") / "downloads"  # under the data dir
_SHOWN = 80  # characters of a path shown in a message
# How to choose another: the flag, or the variable a container or service manifest sets (no flag there).
CHOOSE_ANOTHER = "choose another --data-dir (INFLUENCERS_DATA_DIR)"
SETUP_GRACE_S = 60.0  # a scratch folder takes microseconds to set up; older unfinished ones are dead


class DataDirBusy(RuntimeError):
    """Another live process holds the data dir's lock."""


class DataDirUnusable(ValueError):
    """The data dir cannot be created or written (a file in its place, a read-only or virtual filesystem)."""


def _shown(path: Path) -> str:
    return brief(str(path), _SHOWN)


def prepare_data_dir(data_dir: Path) -> Path:
    """Creates `data_dir` (and its parents) when missing and checks that this process can write in it;
    DataDirUnusable naming the folder and the reason otherwise. Returns `data_dir`."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        what = broken_link(data_dir) or "a file, not a folder"
        raise DataDirUnusable(f"data dir {_shown(data_dir)} is {what}: {CHOOSE_ANOTHER}") from None
    except OSError as exc:
        reason = "a parent is a file, not a folder" if exc.errno == errno.ENOTDIR else exc.strerror
        raise DataDirUnusable(f"data dir {_shown(data_dir)} cannot be created ({reason}): {CHOOSE_ANOTHER}") \
            from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirUnusable(f"data dir {_shown(data_dir)} is not writable: {CHOOSE_ANOTHER}")
    return data_dir


def broken_link(path: Path) -> str | None:
    """What `path` is when it is a symbolic link that leads to no folder: "a symbolic link loop", or "a symbolic
    link to TARGET, which does not exist"; None otherwise. mkdir meets both as an existing name: they were called
    "a file, not a folder"."""
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 raises it for a loop
        return "a symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"a symbolic link to {_shown(Path(os.readlink(path)))}, which does not exist"
    return None


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[Path]:
    """Holds DATA/.lock exclusively for the `with` block (creating `data_dir` if needed); raises
    DataDirBusy at once, without waiting, when another process holds it, DataDirUnusable when the folder
    cannot be used. Yields the lock file's path."""
    prepare_data_dir(data_dir)
    path = data_dir / LOCK_NAME
    # os.open's descriptors are not inherited by child processes (PEP 446): workers never hold the lock.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DataDirUnusable(f"data dir {_shown(data_dir)}: cannot open its lock file ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise DataDirBusy(f"data dir {data_dir} is in use by another influencers process (pid {holder}); "
                              f"stop it or {CHOOSE_ANOTHER}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise DiskFull(f"{DISK_FULL}: the disk of data dir {_shown(data_dir)} has no space left (writing its "
                           f"{LOCK_NAME} file); free some space and run again") from None
        yield path
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


class ScratchDir:
    """This process's folder under DATA/tmp/downloads, held by an flock until `close()` (or death).

    Creating one first removes the folders of processes that died (their lock is free), then makes a new
    folder for this process. `path` is where temporary files go; `close()` removes it."""

    def __init__(self, data_dir: Path) -> None:
        root = prepare_data_dir(data_dir) / DOWNLOADS
        root.mkdir(parents=True, exist_ok=True)
        self.swept = sweep_scratch(root)
        # Made under a dot name, locked, then renamed: a sweep never sees a visible folder without its lock.
        making = Path(tempfile.mkdtemp(prefix=f".{os.getpid()}-", dir=root))
        fd = os.open(making / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a folder just made: nobody else holds it
        self.path = making.with_name(making.name[1:])
        making.rename(self.path)
        # Also run when the object is collected or the interpreter exits, should nobody call close().
        self._finalizer = weakref.finalize(self, _remove_scratch, self.path, fd)

    def close(self) -> None:
        """Removes the folder and what is left in it (idempotent)."""
        self._finalizer()


def _remove_scratch(path: Path, fd: int) -> None:
    shutil.rmtree(path, ignore_errors=True)
    os.close(fd)  # after the removal: a sweep must not take the folder while it is being emptied


def sweep_scratch(root: Path, now: float | None = None) -> int:
    """Removes every folder under `root` whose `.lock` no live process holds, and stray files; returns how
    many entries went. A folder being set up (a dot name) is left alone for SETUP_GRACE_S seconds."""
    now = time.time() if now is None else now
    removed = 0
    for entry in root.iterdir():
        if not entry.is_dir() or entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed += 1
            continue
        if entry.name.startswith("."):
            if now - entry.stat().st_mtime > SETUP_GRACE_S:  # its maker died before locking it
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
            continue
        try:
            fd = os.open(entry / LOCK_NAME, os.O_RDWR)
        except FileNotFoundError:  # not one of ours: left alone
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its process is alive
        else:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


def data_dir_hidden(text: str, data_dir: Path) -> str:
    """`text` with the data dir's absolute path written DATA wherever it stands whole (followed by `/`, a blank,
    punctuation or the end: `/srv/data2` is another folder)."""
    folder = str(data_dir.resolve()).rstrip("/")
    return re.sub(re.escape(folder) + r"(?=[/\s),;:'\"]|$)", "DATA", text) if folder else text
