"""Waiting for identity's feed holds a server thread: past MAX_WAITERS callers at once analytics refuses
(RESOURCE_EXHAUSTED) instead of freezing, health and writes still answer, and the shared client asks again
until its own deadline."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc
from services.analytics.server import MAX_WAITERS, serve_analytics
from services.common.clients import GrpcAnalytics
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings

FAR = 10**9  # a position the store never reaches


@pytest.fixture
def channel(store):
    running = serve_analytics(Settings().replace(analytics_port=0), store)
    opened = open_channel(f"127.0.0.1:{running.port}")
    wait_healthy(opened, timeout_s=10)
    yield opened
    opened.close()
    running.stop(grace_s=0.5)


@pytest.fixture
def stub(channel):
    return analytics_pb2_grpc.AnalyticsServiceStub(channel)


def _wait(stub, seconds: float) -> analytics_pb2.WaitForFeedPositionResponse:
    request = analytics_pb2.WaitForFeedPositionRequest(position=FAR)
    request.timeout.FromNanoseconds(int(seconds * 1e9))
    return stub.WaitForFeedPosition(request, timeout=seconds + 10)


def test_waiters_past_the_limit_are_refused_and_health_still_answers(stub, channel) -> None:
    holders = [threading.Thread(target=_wait, args=(stub, 3.0), daemon=True) for _ in range(MAX_WAITERS)]
    for holder in holders:
        holder.start()
    time.sleep(0.5)
    with pytest.raises(grpc.RpcError) as refused:
        _wait(stub, 3.0)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    for holder in holders:
        holder.join()


def test_a_position_already_applied_answers_at_once_whatever_the_waiters(stub) -> None:
    holders = [threading.Thread(target=_wait, args=(stub, 2.0), daemon=True) for _ in range(MAX_WAITERS)]
    for holder in holders:
        holder.start()
    time.sleep(0.5)
    request = analytics_pb2.WaitForFeedPositionRequest(position=0)
    assert stub.WaitForFeedPosition(request, timeout=2).reached
    for holder in holders:
        holder.join()


def test_the_client_asks_again_while_the_waiters_are_taken_until_its_deadline(stub) -> None:
    holders = [threading.Thread(target=_wait, args=(stub, 1.5), daemon=True) for _ in range(MAX_WAITERS)]
    for holder in holders:
        holder.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert GrpcAnalytics(stub, 10).wait_for_position(FAR, 3.0) is False
    assert time.monotonic() - started >= 2.5  # it kept asking (a slot freed after ~1 s) instead of giving up
    for holder in holders:
        holder.join()


@pytest.mark.parametrize(("request_", "said"), [
    (analytics_pb2.WaitForFeedPositionRequest(position=-1), "position -1 is negative"),
    (analytics_pb2.WaitForFeedPositionRequest(position=FAR, timeout=Duration(seconds=-5)),
     "timeout (-5 s, 0 ns) is not a valid duration of at least 0"),
    # Signs mixed (no valid Duration): read as 1 s - 0.999999999 s, it was a wait of a nanosecond.
    (analytics_pb2.WaitForFeedPositionRequest(position=FAR, timeout=Duration(seconds=1, nanos=-999_999_999)),
     "timeout (1 s, -999999999 ns) is not a valid duration of at least 0"),
])
def test_a_wait_for_a_negative_position_or_an_invalid_timeout_is_refused_naming_which(stub, request_, said) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.WaitForFeedPosition(request_, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details() == said
