"""Failed sign-ins per client address, so that the token cannot be guessed at network speed.

A sliding window: an address with `limit` failures (a wrong token in the sign-in form or in a Bearer
header) within the last `window_s` seconds is refused (429) until the oldest of them leaves the window.
Pure and thread-safe; the clock is injected so tests need not sleep.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable

SIGNIN_FAILURES = 10  # per address and window
SIGNIN_WINDOW_S = 60.0
_MAX_ADDRESSES = 10_000  # beyond this many addresses at once, the oldest-seen are forgotten first


def client_key(address: str) -> str:
    """The key a client address is throttled by: an IPv4 address itself (an IPv4-mapped IPv6 one too), an IPv6
    address's /64 (one subscriber's or host's block: its addresses are the client's to pick, 2^64 of them);
    anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureThrottle:
    """Counts failures per key (a client address) in a sliding window of `window_s` seconds."""

    def __init__(self, limit: int = SIGNIN_FAILURES, window_s: float = SIGNIN_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, key: str) -> float:
        """0 when `key` may try now; otherwise the seconds until it may try again."""
        with self._lock:
            times = self._recent(key)
            if len(times) < self._limit:
                return 0.0
            return max(0.0, times[0] + self._window_s - self._clock())

    def failed(self, key: str) -> None:
        """Records one failure of `key` now."""
        with self._lock:
            times = self._recent(key)
            times.append(self._clock())
            while len(times) > self._limit:
                times.popleft()
            self._failures[key] = times
            if len(self._failures) > _MAX_ADDRESSES:
                del self._failures[next(iter(self._failures))]

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.pop(key, deque())  # popped and put back: the dict stays in least-recent order
        horizon = self._clock() - self._window_s
        while times and times[0] <= horizon:
            times.popleft()
        if times:
            self._failures[key] = times
        return times
