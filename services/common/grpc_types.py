"""The shapes of gRPC's interceptor hooks, for type hints: grpc ships none for them.

A client continuation takes the call's details and its request (a message, or an iterator of them for a client
stream) and returns what the stub's call returns: a Call that is also a Future (unary response) or an iterator
(streamed response), hence Any."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

ServerContinuation = Callable[[grpc.HandlerCallDetails], "grpc.RpcMethodHandler | None"]
ClientContinuation = Callable[[grpc.ClientCallDetails, Any], Any]
