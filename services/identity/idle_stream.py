"""A client stream's messages with a limit on the wait between two of them: gRPC's sync server has none, so a
caller that opens AnalyzeVideo and then sends nothing (or stops half way) held its slot and a server thread until
its own deadline, which the caller chooses."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_PUT_WAIT_S = 0.5  # how often a reader whose message nobody takes checks whether the stream was left


class StreamIdle(Exception):
    """No message arrived within the idle limit (seconds, the exception's `idle_s`)."""

    def __init__(self, idle_s: float) -> None:
        super().__init__(f"no message for {idle_s:g} s")
        self.idle_s = idle_s


def paced(messages: Iterator[T], idle_s: float) -> Iterator[T]:
    """The messages of `messages`, each waited for at most `idle_s` seconds after the one before (the first,
    after the call): StreamIdle past that. A thread of its own reads them, one ahead at most (a message waits
    there while the caller works on the one before, so that work never counts as idle). An error of `messages`
    (the client cancelled) is raised here as it was there. Closing this iterator leaves the reader to end with
    the call (gRPC ends a request iterator once the call is over)."""
    handed: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1)
    left = threading.Event()

    def hand(kind: str, value: object) -> None:
        while not left.is_set():
            try:
                handed.put((kind, value), timeout=_PUT_WAIT_S)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            for message in messages:
                hand("message", message)
                if left.is_set():
                    return
            hand("end", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            hand("error", exc)

    threading.Thread(target=read, name="stream-reader", daemon=True).start()
    try:
        while True:
            try:
                kind, value = handed.get(timeout=idle_s)
            except queue.Empty:
                raise StreamIdle(idle_s) from None
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        left.set()
