"""Identity's doubt about each influencer, for the overview: open "same person?" items in identity's review
queue, counted per influencer and cached, so that the page asks identity at most once per store version and
`ttl_s` seconds. When identity cannot be asked, the counts are unknown (None), never zeros.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import Protocol

import grpc

# ListReviewItems answers at most this many items; a count reached with a full page is "at least".
REVIEW_PAGE = 100


class PairItem(Protocol):
    influencer_a: str
    influencer_b: str


def open_items_per_influencer(items: Iterable[PairItem]) -> dict[str, int]:
    """How many review items name each influencer (on either side)."""
    counts: Counter[str] = Counter()
    for item in items:
        counts[item.influencer_a] += 1
        if item.influencer_b != item.influencer_a:
            counts[item.influencer_b] += 1
    return dict(counts)


class OpenReviewCounts:
    """open_items_per_influencer of `fetch()` (identity's queue), kept until the `version` given changes or
    `ttl_s` seconds pass. `counts()` is None when `fetch` failed (identity unreachable) or there is none."""

    def __init__(self, fetch: Callable[[], list[PairItem]] | None, ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._key: Hashable = None
        self._at = -float("inf")
        self._counts: dict[str, int] | None = None
        self.full = False  # the last answer was a full page: counts may be low

    def counts(self, version: Hashable) -> dict[str, int] | None:
        if self._fetch is None:
            return None
        with self._lock:
            now = self._clock()
            if version != self._key or now - self._at >= self._ttl_s:
                self._key, self._at = version, now
                try:
                    items = self._fetch()
                except grpc.RpcError:  # identity down or refusing: the page says "unknown", and asks again later
                    self._counts, self.full = None, False
                else:
                    self._counts, self.full = open_items_per_influencer(items), len(items) >= REVIEW_PAGE
            return self._counts
