"""Refusals of a store that cannot be used as it is: damaged files (StoreDamaged) and a disk without room
(DiskFull). Both carry one line for the operator; the CLI prints it and exits 2, never a traceback."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from services.common.boundary import brief

MIB = 1024 * 1024


class StoreDamaged(RuntimeError):
    """A store's files cannot be read as a whole store (a broken, missing or unwritable file)."""


DISK_FULL = "disk full"  # every DiskFull message starts with it: ingest stops a job's batch when a row says it


class DiskFull(RuntimeError):
    """The data dir's filesystem has less free space than settings.min_free_bytes: the write is refused."""


def engine_error(exc: BaseException) -> str:
    """The first line of an engine's error, cut short."""
    return brief((str(exc) or type(exc).__name__).splitlines()[0], 300)


def check_room(path: Path, min_free_bytes: int, what: str) -> int:
    """DiskFull naming `what` when the filesystem of `path` has less than `min_free_bytes` free; else the
    bytes free (0 unread when `min_free_bytes` is 0: nothing to check). A store that maps its files (Qdrant
    Edge) gets SIGBUS, not an error, when a write meets a full disk: this check comes first."""
    if min_free_bytes <= 0:
        return 0
    free = shutil.disk_usage(path).free
    if free < min_free_bytes:
        raise DiskFull(f"{DISK_FULL}: the disk of {path} has {free / MIB:.1f} MiB free, under the "
                       f"{min_free_bytes / MIB:.0f} MiB kept free (INFLUENCERS_MIN_FREE_BYTES): {what} refused; "
                       "free some space and run again")
    return free


def has_room(path: Path, min_free_bytes: int) -> bool:
    """Whether the filesystem of `path` has `min_free_bytes` free, and at least 1 MiB (SQLite fills a disk to its
    last byte before it refuses); True when its free space cannot be read (nothing there to watch)."""
    try:
        return shutil.disk_usage(path).free >= max(min_free_bytes, MIB)
    except OSError:
        return True


def room_refusal(paths: Iterable[Path], min_free_bytes: int, what: str) -> str:
    """The DiskFull message (naming `what`) of the first of `paths` whose filesystem has less than `min_free_bytes`
    free, and at least 1 MiB (as has_room); "" when every one has room, or its free space cannot be read."""
    for path in paths:
        try:
            check_room(path, max(min_free_bytes, MIB), what)
        except DiskFull as exc:
            return str(exc)
        except OSError:
            continue
    return ""


def is_disk_full(exc: BaseException) -> bool:
    """Whether an engine's error says the disk is full (SQLite's own words: "database or disk is full")."""
    text = str(exc).lower()
    return any(words in text for words in ("no space left", "disk full", "enospc", "disk is full"))
