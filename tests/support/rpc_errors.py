"""A failed gRPC call: as a channel raises it, for the fakes of our stubs; as a test catches it from a real call."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest


class FakeRpcError(grpc.RpcError):
    """A call that ended with `code` and `details`: code(), details() and trailing_metadata() as on grpc's own
    error, and a str() of several lines with a debug string, as grpc's _InactiveRpcError (never fit to show)."""

    def __init__(self, code: grpc.StatusCode, details: str = "",
                 trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()) -> None:
        super().__init__()
        self._code, self._details, self._trailing_metadata = code, details, trailing_metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._trailing_metadata

    def __str__(self) -> str:
        return (f"<_InactiveRpcError of RPC that terminated with:\n\tstatus = {self._code}\n"
                f"\tdetails = \"{self._details}\"\n\tdebug_error_string = \"UNKNOWN:Error received from peer\"\n>")


def unavailable(details: str = "failed to connect to all addresses") -> FakeRpcError:
    """What a channel raises while the service is down or restarting."""
    return FakeRpcError(grpc.StatusCode.UNAVAILABLE, details)


def disk_full(call: str) -> FakeRpcError:
    """What identity answers `call` (e.g. "CloseBatch") when its disk is full: RESOURCE_EXHAUSTED, in its words."""
    return FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"disk full: {call} could not write (IO Error: failed to write); free some space and run again")


def refusal(call: Callable[..., object], *args: object, timeout_s: float = 60) -> grpc.RpcError:
    """The error `call(*args)` raises; the test fails if the call answers instead."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, timeout=timeout_s)
    return caught.value
