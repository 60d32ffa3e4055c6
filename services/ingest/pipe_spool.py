"""A video given as a pipe (a FIFO, `/dev/stdin`, `<(command)`: anything but a regular file) copied to a file before
it is opened, so that it is read as a file is: its streams counted in its header before any is probed, its end read
by a seek. A pipe can be read once, so it was opened once, its streams counted only in the opening that probes
them all: 1,000 streams took 765 MB before they were refused. The copy is bounded in bytes and in the time the
writer may stay silent, and goes to the caller's scratch folder (a decoder's: the ingest process's own, under its
data dir), kept `min_free_bytes` from full as every other write of ingest is: a full /tmp is no concern of ingest's,
and a full scratch disk is refused as "disk full", which stalls the job until there is room."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from services.common.damage import DISK_FULL, DiskFull, check_room

MAX_PIPE_BYTES = 512 << 20  # bytes of a pipe copied at most: the download cap's default (INFLUENCERS_MAX_VIDEO_BYTES)
PIPE_IDLE_S = 30.0  # s a writer may send nothing before the pipe is given up (the demuxer's own timeout)
CHUNK = 1 << 20
CHECK_EVERY_BYTES = 64 << 20  # bytes copied between two looks at the free space (as a download's spool)


class PipeRefused(Exception):
    """A pipe that cannot be copied: too long, a silent writer, or a disk that cannot hold it (its message then
    starts with DISK_FULL); the message says which, in words."""


@contextlib.contextmanager
def as_file(path: Path, folder: Path | None = None, min_free_bytes: int = 0, max_bytes: int = MAX_PIPE_BYTES,
            idle_s: float = PIPE_IDLE_S) -> Iterator[Path]:
    """`path` itself when it is a regular file (or names nothing: the opening says so); else its bytes copied to a
    file of the same suffix (FFmpeg guesses a format from it too) in `folder` (None: the system's temporary folder,
    for callers with no folder of their own), removed once the block ends: a container opened on it meanwhile reads
    on, its open file keeping the bytes. Raises PipeRefused past `max_bytes`, after `idle_s` seconds without a
    byte, or when the copy would leave less than `min_free_bytes` free on the disk of `folder` or meets a full
    disk ("disk full: ..."), a FIFO that no writer opens in `idle_s` too."""
    if path.is_file() or not path.exists():
        yield path
        return
    where = folder if folder is not None else Path(tempfile.gettempdir())
    try:
        fd, name = tempfile.mkstemp(prefix="pipe-", suffix=path.suffix[:16], dir=where)
    except OSError as exc:
        raise _unwritable(exc, where) from exc
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(path, out, max_bytes, idle_s, _Room(where, min_free_bytes))
        yield copy
    finally:
        copy.unlink(missing_ok=True)


class _Room:
    """The free space of a folder's disk, looked at again every CHECK_EVERY_BYTES written (0 `min_free_bytes`:
    never)."""

    def __init__(self, folder: Path, min_free_bytes: int) -> None:
        self.folder, self.min_free_bytes, self.left = folder, min_free_bytes, 0

    def take(self, size: int) -> None:
        """PipeRefused "disk full" when `size` more bytes would leave less than min_free_bytes free."""
        if not self.min_free_bytes or size <= self.left:
            self.left -= size
            return
        try:
            free = check_room(self.folder, self.min_free_bytes + size, "copying a video read from a pipe")
        except DiskFull as exc:
            raise PipeRefused(str(exc)) from None
        except OSError as exc:
            raise _unwritable(exc, self.folder) from exc
        self.left = min(free - self.min_free_bytes, max(CHECK_EVERY_BYTES, size)) - size


def _unwritable(exc: OSError, folder: Path) -> PipeRefused:
    """Why a pipe's copy cannot be written to `folder`: a full disk (or quota) starts with DISK_FULL, as a download's
    and the frame spool's do."""
    full = f"{DISK_FULL}: " if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return PipeRefused(f"{full}cannot copy the pipe to a file in {folder} ({exc.strerror or exc})")


def _copy(path: Path, out: BinaryIO, max_bytes: int, idle_s: float, room: _Room) -> None:
    # Non-blocking: a FIFO's open for reading waits for a writer, with no limit (was: a FIFO that no writer ever
    # opened held its row in os.open for good). Blocking again once open: the wait is select's, bounded. Until a
    # writer comes, select finds nothing to read (Linux reports a FIFO's hang-up only once a writer has left).
    source = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.set_blocking(source, True)
        copied = 0
        while True:
            if not select.select([source], [], [], idle_s)[0]:
                raise PipeRefused(f"not a readable video (the pipe sent nothing for {idle_s:g} s after "
                                  f"{copied:,} bytes{'' if copied else ': did anything open it to write?'})")
            data = os.read(source, CHUNK)
            if not data:
                return
            copied += len(data)
            if copied > max_bytes:
                raise PipeRefused(f"not a video we read: a pipe of more than {max_bytes:,} bytes (the limit of a "
                                  "video read from a pipe: give it as a file)")
            room.take(len(data))
            try:
                out.write(data)
                out.flush()  # a full disk met here, not at the close after the block
            except OSError as exc:
                raise _unwritable(exc, room.folder) from exc
    finally:
        os.close(source)
