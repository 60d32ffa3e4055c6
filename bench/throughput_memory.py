"""Peak memory of this process and all its descendants (the identity workers, the floor's decoders),
sampled in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil

GIB = 1024**3


def tree_rss(root: psutil.Process) -> tuple[int, int]:
    """Resident bytes of `root` and of all its live descendants together. Pages shared between processes
    count once per process, so the sum errs high, never low."""
    own = root.memory_info().rss
    children = 0
    for proc in root.children(recursive=True):
        try:
            children += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # a worker that ended between listing and reading
    return own, children


class PeakMemory:
    """Context manager sampling every `interval_s` seconds: `peak_bytes` is the largest RSS of the whole
    tree seen at once; `peak_own_bytes` and `peak_children_bytes` the largest of each part (not at once)."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak_bytes = self.peak_own_bytes = self.peak_children_bytes = 0
        self._root = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        own, children = tree_rss(self._root)
        self.peak_bytes = max(self.peak_bytes, own + children)
        self.peak_own_bytes = max(self.peak_own_bytes, own)
        self.peak_children_bytes = max(self.peak_children_bytes, children)
