"""Byte records written once, in order, and read back in order: a video's frames between the moment they
are made and the moment they are analysed.

Records stay in memory up to `memory_bytes` (MEMORY_BYTES); past that, all of them go to a file of their
own in a scratch folder (datadir.ScratchDir: removed with its process, swept after a crash), so a long
video costs disk, not memory. `reader()` gives a picklable handle, so that another process on the machine
(identity's workers) reads the records one at a time. A write that fails (a full disk) raises SpoolError
naming the folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

LENGTH_BYTES = 8  # each record on disk: its length (little-endian), then its bytes
MEMORY_BYTES = 32 * 1024 * 1024  # a spool past this many bytes of records moves them to its file


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

    def __iter__(self) -> Iterator[bytes]:
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
    memory_bytes: int = MEMORY_BYTES
    _records: list[bytes] = field(default_factory=list)
    _held: int = 0
    _count: int = 0
    _path: str = ""
    _file: BinaryIO | None = None

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
        try:
            fd, self._path = tempfile.mkstemp(prefix="spool-", dir=self.directory)
        except OSError as exc:
            raise SpoolError(f"cannot keep frames in {self.directory}: {exc.strerror or exc}") from exc
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        held, self._records, self._held = self._records, [], 0
        self._write(held)

    def _write(self, records: list[bytes]) -> None:
        assert self._file is not None
        try:
            for record in records:
                self._file.write(len(record).to_bytes(LENGTH_BYTES, "little"))
                self._file.write(record)
        except OSError as exc:
            raise SpoolError(f"cannot keep frames in {self.directory}: {exc.strerror or exc}") from exc

    def _flush(self) -> None:
        assert self._file is not None
        try:
            self._file.flush()
        except OSError as exc:
            raise SpoolError(f"cannot keep frames in {self.directory}: {exc.strerror or exc}") from exc
