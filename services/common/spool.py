"""Byte records written once, in order, and read back in order: a video's frames between the moment they
are made and the moment they are analysed.

Records stay in memory up to `memory_bytes` (settings.spool_memory_bytes); past that, all of them go to a file of their
own in a scratch folder (datadir.ScratchDir: removed with its process, swept after a crash), so a long
video costs disk, not memory. `reader()` gives a picklable handle, so that another process on the machine
(identity's workers) reads the records one at a time. The file never eats the room the stores keep free
(`min_free_bytes`, settings.min_free_bytes): a spool that would, or a write that fails on a full disk, raises
SpoolError saying "disk full" (so that ingest stops the batch, as for the stores) and naming the folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from services.common.damage import DISK_FULL, DiskFull, check_room

CHECK_EVERY_BYTES = 16 * 1024 * 1024  # the free space is looked at again after this much is written, at most
LENGTH_BYTES = 8  # each record on disk: its length (little-endian), then its bytes


class SpoolError(OSError):
    """The records could not be kept (no space left, the folder gone); the message names the folder."""


@dataclass(frozen=True)
class SpoolReader:
    """The records of a finished spool: in `records`, or in the file at `path` (`count` of them)."""

    count: int
    records: tuple[bytes, ...] = ()
    path: str = ""

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Generator[bytes, None, None]:  # a generator: close() closes the file
        if not self.path:
            yield from self.records
            return
        with open(self.path, "rb") as f:
            for _ in range(self.count):
                head = f.read(LENGTH_BYTES)
                size = int.from_bytes(head, "little")
                data = f.read(size)
                if len(head) != LENGTH_BYTES or len(data) != size:
                    raise SpoolError(f"spool file {self.path} ended early")
                yield data


@dataclass
class Spool:
    """Records kept in memory up to `memory_bytes`, then in a file under `directory`. Close it (or use it
    as a context manager) to remove the file."""

    directory: Path
    memory_bytes: int
    min_free_bytes: int = 0
    _records: list[bytes] = field(default_factory=list)
    _held: int = 0
    _count: int = 0
    _path: str = ""
    _file: BinaryIO | None = None
    _room: int = 0  # bytes the file may still take above min_free_bytes before the free space is looked at again

    def append(self, record: bytes) -> None:
        self._count += 1
        if not self._path:
            self._records.append(record)
            self._held += len(record)
            if self._held > self.memory_bytes:
                self._spill()
            return
        self._write([record])

    def __len__(self) -> int:
        return self._count

    def reader(self) -> SpoolReader:
        """The records so far; the spool stays open (its file is removed by close())."""
        if self._path:
            self._flush()
            return SpoolReader(self._count, path=self._path)
        return SpoolReader(self._count, records=tuple(self._records))

    def detach(self) -> SpoolReader:
        """The records, handed over: the file (if any) is closed and no longer this spool's to remove; its
        new owner (another process: see `removed_after`) removes it. The spool is empty after."""
        reader = self.reader()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._records, self._held, self._path = [], 0, ""
        return reader

    def close(self) -> None:
        """Frees the records and removes the file (idempotent)."""
        self._records, self._held = [], 0
        if self._file is not None:
            with contextlib.suppress(OSError):  # what it still buffered goes anyway (a full disk refuses it)
                self._file.close()
            self._file = None
        if self._path:
            Path(self._path).unlink(missing_ok=True)
            self._path = ""

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _spill(self) -> None:
        self._check_room(self._held)
        try:
            fd, self._path = tempfile.mkstemp(prefix="spool-", dir=self.directory)
        except OSError as exc:
            raise self._error(exc) from exc
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        held, self._records, self._held = self._records, [], 0
        self._write(held)

    def _write(self, records: list[bytes]) -> None:
        assert self._file is not None
        try:
            for record in records:
                self._make_room(LENGTH_BYTES + len(record))
                self._file.write(len(record).to_bytes(LENGTH_BYTES, "little"))
                self._file.write(record)
        except SpoolError:  # from _make_room
            raise
        except OSError as exc:
            raise self._error(exc) from exc

    def _make_room(self, size: int) -> None:
        """Before `size` more bytes go to the file: the free space is looked at again once the room found
        above min_free_bytes last time (CHECK_EVERY_BYTES at most) is spent, so that the file never takes
        the margin; SpoolError "disk full" when `size` would."""
        if not self.min_free_bytes:
            return
        if size > self._room:
            free = self._check_room(size)
            self._room = min(free - self.min_free_bytes, max(CHECK_EVERY_BYTES, size))
        self._room -= size

    def _check_room(self, about_to_write: int) -> int:
        """The bytes free on the folder's disk (0 unread without a margin); SpoolError "disk full" when
        `about_to_write` more would leave less than min_free_bytes."""
        try:
            return check_room(self.directory, self.min_free_bytes + about_to_write if self.min_free_bytes else 0,
                       "keeping a video's frames")
        except DiskFull as exc:
            raise SpoolError(str(exc)) from None
        except OSError as exc:  # the folder gone (removed under the running process)
            raise self._error(exc) from exc

    def _error(self, exc: OSError) -> SpoolError:
        full = exc.errno == errno.ENOSPC
        return SpoolError(f"{DISK_FULL + ': ' if full else ''}cannot keep frames in {self.directory}: "
                          f"{exc.strerror or exc}")

    def _flush(self) -> None:
        assert self._file is not None
        try:
            self._file.flush()
        except OSError as exc:
            raise self._error(exc) from exc


@contextlib.contextmanager
def removed_after(reader: SpoolReader) -> Generator[SpoolReader, None, None]:
    """`reader` (a detached spool's) for the time of the block; its file is removed after."""
    try:
        yield reader
    finally:
        if reader.path:
            Path(reader.path).unlink(missing_ok=True)
