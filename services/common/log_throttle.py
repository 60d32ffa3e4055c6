"""A library logger that repeats itself while something stays down, held to one line a minute.

OpenTelemetry's OTLP exporter logs a WARNING for every retry of every batch while the collector is unreachable
(`Transient error ... retrying in 1.2s`) and an ERROR for every batch given up: during a job, about one line a
second for each of the three services, hours on end if the collector stays down. The first line says all there
is to say; the next ones pass at most once every `every_s` seconds, saying how many were held back.

Its propagators log what a caller sent: a line for each bad entry of a `baggage` header (up to 180 from one request
to the page or one gRPC call, the whole 8 KB header echoed when it is too long), one for a bad `tracestate` member.
Those are held to a line a minute too, and cut short (`max_chars`): a caller must not be able to fill the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

EVERY_S = 60.0


class RepeatedLines(logging.Filter):
    """Lets a logger's WARNING-or-worse lines through at most once every `every_s` seconds (lower levels
    always); a line let through after some were held back ends with how many."""

    def __init__(self, every_s: float = EVERY_S, clock: Callable[[], float] = time.monotonic,
                 max_chars: int | None = None) -> None:
        super().__init__()
        self.every_s, self._clock, self.max_chars = every_s, clock, max_chars
        self._last: float | None = None
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self.every_s:
                self._held += 1
                return False
            held, self._held, self._last = self._held, 0, now
        message = record.getMessage()
        if self.max_chars is not None and len(message) > self.max_chars:
            message = f"{message[:self.max_chars]}… ({len(message)} chars)"
        if held:
            message = f"{message} ({held} more lines of {record.name} held back in the last {self.every_s:.0f} s)"
        record.msg, record.args = message, None
        return True


def throttle(logger_names: tuple[str, ...], every_s: float = EVERY_S, max_chars: int | None = None) -> None:
    """Puts one RepeatedLines on each named logger (once: a second call changes nothing); `max_chars`: the
    lines let through are cut to that many characters of their message."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatedLines) for f in logger.filters):
            logger.addFilter(RepeatedLines(every_s, max_chars=max_chars))
