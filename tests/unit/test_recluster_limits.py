"""Calling identity's Recluster again while it is busy (services/common/recluster_limits.py): only its refusal
past the limit of calls at once is tried again, and only before the first message, within the deadline."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from services.common.recluster_limits import MAX_RECLUSTERS, busy_message, is_busy, streamed_when_free
from tests.support.rpc_errors import FakeRpcError

PAUSES = (0.001, 0.002)


BUSY = FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, busy_message(MAX_RECLUSTERS))
DISK_FULL = FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "disk full: Recluster could not write (...)")


class Calls:
    """A server-streaming call refused with `refusals` in turn, then streaming `pages`."""

    def __init__(self, refusals: list[Exception], pages: list[str], fail_after_first: Exception | None = None) -> None:
        self.refusals, self.pages, self.fail_after_first = list(refusals), pages, fail_after_first
        self.made: list[float] = []

    def __call__(self, left: float) -> Iterator[str]:
        self.made.append(left)
        refusal = self.refusals.pop(0) if self.refusals else None

        def stream() -> Iterator[str]:
            if refusal is not None:
                raise refusal
            yield self.pages[0]
            if self.fail_after_first is not None:
                raise self.fail_after_first
            yield from self.pages[1:]
        return stream()


def test_a_call_refused_as_busy_is_made_again_until_it_streams() -> None:
    calls = Calls([BUSY, BUSY], ["a", "b"])
    assert list(streamed_when_free(calls, 30, PAUSES)) == ["a", "b"]
    assert len(calls.made) == 3 and all(0 < left <= 30 for left in calls.made)


def test_a_full_disk_or_a_busy_refusal_after_the_first_message_is_raised_at_once() -> None:
    assert is_busy(BUSY) and not is_busy(DISK_FULL)
    with pytest.raises(FakeRpcError) as full:
        list(streamed_when_free(Calls([DISK_FULL], ["a"]), 30, PAUSES))
    assert full.value is DISK_FULL
    calls = Calls([], ["a", "b"], fail_after_first=BUSY)
    with pytest.raises(FakeRpcError):
        list(streamed_when_free(calls, 30, PAUSES))
    assert len(calls.made) == 1, "a stream under way is never made again"


def test_a_call_busy_past_its_deadline_raises_the_refusal() -> None:
    calls = Calls([BUSY] * 1000, ["a"])
    with pytest.raises(FakeRpcError) as caught:
        list(streamed_when_free(calls, 0.05, PAUSES))
    assert is_busy(caught.value) and 1 < len(calls.made) < 1000
