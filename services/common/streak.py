"""How a retried step that keeps failing is logged: its first failure, then one line every `every` tries
(a line a minute for a step retried every second, not one a second), and its recovery once."""
from __future__ import annotations

REPEAT_LOG_TRIES = 60  # failed tries in a row between two log lines after the first


class FailureStreak:
    """Counts the failures in a row of one retried step."""

    def __init__(self, every: int = REPEAT_LOG_TRIES) -> None:
        self.every = max(1, every)
        self.failures = 0

    def failed(self) -> bool:
        """Counts one more failure; True when this one is to be logged (the first, then every `every`)."""
        loud = self.failures % self.every == 0
        self.failures += 1
        return loud

    def succeeded(self) -> int:
        """Ends the streak; the failures it counted (0: there was none, nothing to say)."""
        failures, self.failures = self.failures, 0
        return failures
