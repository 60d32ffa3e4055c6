"""A video given as a pipe (a FIFO, `/dev/stdin`, `<(command)`: anything but a regular file) copied to a file before
it is opened, so that it is read as a file is: its streams counted in its header before any is probed, its end read
by a seek. A pipe can be read once, so it was opened once, its streams counted only in the opening that probes
them all: 1,000 streams took 765 MB before they were refused. The copy is bounded in bytes and in the time the
writer may stay silent."""

from __future__ import annotations

import contextlib
import os
import select
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAX_PIPE_BYTES = 512 << 20  # bytes of a pipe copied at most: the download cap's default (INFLUENCERS_MAX_VIDEO_BYTES)
PIPE_IDLE_S = 30.0  # s a writer may send nothing before the pipe is given up (the demuxer's own timeout)
CHUNK = 1 << 20


class PipeRefused(Exception):
    """A pipe that cannot be copied: too long, a silent writer, or a disk that cannot hold it; the message says
    which, in words."""


@contextlib.contextmanager
def as_file(path: Path, max_bytes: int = MAX_PIPE_BYTES, idle_s: float = PIPE_IDLE_S) -> Iterator[Path]:
    """`path` itself when it is a regular file (or names nothing: the opening says so); else its bytes copied to a
    temporary file of the same suffix (FFmpeg guesses a format from it too), removed once the block ends: a
    container opened on it meanwhile reads on, its open file keeping the bytes. Raises PipeRefused past `max_bytes`,
    or after `idle_s` seconds without a byte, a FIFO that no writer opens in that time too."""
    if path.is_file() or not path.exists():
        yield path
        return
    fd, name = tempfile.mkstemp(prefix="pipe-", suffix=path.suffix[:16])
    copy = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(path, out, max_bytes, idle_s)
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _copy(path: Path, out: BinaryIO, max_bytes: int, idle_s: float) -> None:
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
            try:
                out.write(data)
            except OSError as exc:
                raise PipeRefused(f"cannot copy the pipe to a file in {tempfile.gettempdir()} ({exc.strerror})"
                                  ) from exc
    finally:
        os.close(source)
