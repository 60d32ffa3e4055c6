"""Health.Watch streams, which any caller may open without the token (health stays open for probes), called for real
on the analytics server (8 threads, the fewest of the three). grpc_health's Watch answers through a callback and
holds no thread, unless a wrapper hides that from gRPC: our interceptors did, so each stream held a thread for as
long as its caller kept it open, and eight of them left none for health checks or any call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.rpc import RunningServer, open_channel, wait_healthy
from services.common.settings import Settings

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
WATCHERS = 20  # more than the server's threads


@pytest.fixture
def analytics(tmp_path: Path) -> Iterator[tuple[RunningServer, grpc.Channel]]:
    store = AnalyticsStore(tmp_path / "a.sqlite")
    running = serve_analytics(Settings().replace(analytics_port=0, token="t0ken"), store)
    channel = open_channel(f"127.0.0.1:{running.port}", token="t0ken")
    wait_healthy(channel, timeout_s=10)
    yield running, channel
    channel.close()
    running.stop(grace_s=0.5)
    store.close()


def test_health_watch_streams_hold_no_thread_and_still_hear_of_a_change(analytics) -> None:
    running, channel = analytics
    stranger = grpc.insecure_channel(f"127.0.0.1:{running.port}")  # no token: health is open to anyone
    health = health_pb2_grpc.HealthStub(stranger)
    streams = [health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60) for _ in range(WATCHERS)]
    try:
        assert [next(s).status for s in streams] == [SERVING] * WATCHERS
        assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status == SERVING
        stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        assert stub.GetFeedPosition(analytics_pb2.GetFeedPositionRequest(), timeout=10).applied_position == 0
        running.drain()
        assert [next(s).status for s in streams] == [NOT_SERVING] * WATCHERS
    finally:
        for s in streams:
            s.cancel()
        stranger.close()
