"""Freed memory given back to the system between videos (glibc's malloc_trim).

A video's frames are large allocations freed together once it is done, and glibc keeps most of such freed heap
for later instead of returning it: a process's resident size then creeps up to its worst video's, in each
identity worker, decoder and the ingest process at once. Trimming after each video returns the free pages (a
few ms); allocation itself is unchanged, so no frame costs more to allocate. A C library without malloc_trim
(musl) makes this a no-op."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:  # glibc's soname on every Linux it runs on (not find_library: that runs ldconfig in a subprocess)
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def give_back_free_memory() -> None:
    """Returns the process's free heap pages to the system, where the C library can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
