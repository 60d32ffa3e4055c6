"""The overview's chart as PNG bytes, drawn once for each analysis and set of influencers shown.

Every overview loads /chart.png, and matplotlib draws it in about a second of a server thread: fifty analysts
opening the overview at once held all 8 of the page's threads for 25 s, and every other request (an answer, a
video's range) waited behind them. Now the first request for a chart draws it while the others asking for the
same one wait for that drawing, and later ones are answered from memory until the analysis changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

KEEP = 32  # charts kept for one analysis (one per minimum of videos asked for that changes who is shown)


class ChartCache:
    """PNG bytes by (analysis, key): `analysis` is compared by identity (AnalysisCache gives one object per
    version of the store), and a new one forgets every chart of the old."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._analysis: object | None = None
        self._pngs: dict[Hashable, bytes] = {}
        self._drawing: dict[Hashable, threading.Lock] = {}

    def png(self, analysis: object, key: Hashable, draw: Callable[[], bytes]) -> bytes:
        """The chart of `analysis` for `key`, drawn by `draw()` once: concurrent callers for it wait for it."""
        with self._lock:
            if self._analysis is not analysis:
                self._analysis, self._pngs, self._drawing = analysis, {}, {}
            if (png := self._pngs.get(key)) is not None:
                return png
            drawing = self._drawing.setdefault(key, threading.Lock())
        with drawing:
            with self._lock:
                png = self._pngs.get(key) if self._analysis is analysis else None
            if png is not None:
                return png
            png = draw()
            with self._lock:
                if self._analysis is analysis and len(self._pngs) < self._keep:
                    self._pngs[key] = png
            return png
