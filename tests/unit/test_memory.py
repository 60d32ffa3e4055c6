"""give_back_free_memory returns freed heap to the system (glibc's malloc_trim), in a process of its own so that
no other test's allocations count."""

from __future__ import annotations

import subprocess
import sys

_CHILD = """
import psutil
from services.common.memory import give_back_free_memory

def rss():
    return psutil.Process().memory_info().rss

blocks = [bytearray(100_000) for _ in range(2_000)]  # 200 MB under the mmap threshold: on the heap
for b in blocks:
    b[::4096] = b"x" * len(b[::4096])  # touched, so resident
keep = blocks[-1]  # the heap's top stays in use: only a trim (not free's own shrinking) returns the rest
del blocks[:-1]
before = rss()
give_back_free_memory()
print(before - rss())
"""


def test_memory_freed_on_the_heap_is_given_back_to_the_system() -> None:
    given_back = int(subprocess.run([sys.executable, "-c", _CHILD], check=True, capture_output=True, text=True,
                                    timeout=60).stdout)
    assert given_back > 150_000_000
