"""A gRPC channel whose TLS trust follows its authorities' file: each call goes over a channel made with the roots the
file holds now (services/common/tls.py `Roots`), a new one once the file changed. gRPC's Python API fixes a channel's
roots when it is made, and a stub keeps the callables of the channel it was given: a CA rotated (a Secret renewed by
cert-manager, a bundle updated) was trusted by a client only after a restart, and every call to a server presenting a
certificate of the new CA failed as UNAVAILABLE meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import grpc


class Roots(Protocol):
    """Channel credentials read again when their file changed: `current()` is (the credentials of its contents now,
    a number that changes with them)."""

    def current(self) -> tuple[grpc.ChannelCredentials, int]: ...


class ReloadingChannel(grpc.Channel):
    """A channel made by `make(credentials)` (a secure channel to one target), made again when `roots` change. A call
    started keeps the channel it started on to its end: the channel replaced is not closed, so that a stream under way
    (a job's progress) is not cut; it is freed once nothing refers to it. `close()` closes the current one."""

    def __init__(self, roots: Roots, make: Callable[[grpc.ChannelCredentials], grpc.Channel]) -> None:
        self._roots, self._make = roots, make
        self._lock = threading.Lock()
        credentials, self._generation = roots.current()
        self._channel = make(credentials)
        self._subscribed: list[tuple[Callable[[grpc.ChannelConnectivity], None], bool]] = []

    def current(self) -> grpc.Channel:
        """The channel of the roots the file holds now."""
        credentials, generation = self._roots.current()
        if generation == self._generation:
            return self._channel
        with self._lock:
            if generation != self._generation:
                for callback, _ in self._subscribed:
                    self._channel.unsubscribe(callback)
                self._channel, self._generation = self._make(credentials), generation
                for callback, try_to_connect in self._subscribed:
                    self._channel.subscribe(callback, try_to_connect)
            return self._channel

    def subscribe(self, callback: Callable[[grpc.ChannelConnectivity], None], try_to_connect: bool = False) -> None:
        with self._lock:
            self._subscribed.append((callback, try_to_connect))
        self.current().subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Callable[[grpc.ChannelConnectivity], None]) -> None:
        with self._lock:
            self._subscribed = [(c, t) for c, t in self._subscribed if c is not callback]
        self.current().unsubscribe(callback)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Callable(self, "unary_unary", method, args, kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Callable(self, "unary_stream", method, args, kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Callable(self, "stream_unary", method, args, kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Callable(self, "stream_stream", method, args, kwargs)

    def close(self) -> None:
        with self._lock:
            self._channel.close()

    def __enter__(self) -> ReloadingChannel:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False


class _Callable:
    """A method's callable (`__call__`, `with_call`, `future`) taken from the channel of the roots of the moment at each
    call; the one of a channel is made once, and made again when the channel was replaced."""

    def __init__(self, owner: ReloadingChannel, kind: str, method: str, args: tuple, kwargs: dict) -> None:
        self._owner, self._kind, self._method, self._args, self._kwargs = owner, kind, method, args, kwargs
        self._made: tuple[grpc.Channel, Any] | None = None

    def _callable(self) -> Any:
        channel = self._owner.current()
        made = self._made
        if made is None or made[0] is not channel:
            made = (channel, getattr(channel, self._kind)(self._method, *self._args, **self._kwargs))
            self._made = made
        return made[1]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._callable()(*args, **kwargs)

    def with_call(self, *args: Any, **kwargs: Any) -> Any:
        return self._callable().with_call(*args, **kwargs)

    def future(self, *args: Any, **kwargs: Any) -> Any:
        return self._callable().future(*args, **kwargs)
