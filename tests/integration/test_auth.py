"""A token, when set, is required on every gRPC call (health probes excepted)."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers.rpc import build_server, open_channel
from influencers.v1 import analytics_pb2, analytics_pb2_grpc
from services.analytics.server import AnalyticsServicer
from services.analytics.store import AnalyticsStore


@pytest.fixture
def guarded(tmp_path):
    store = AnalyticsStore(tmp_path / "a.sqlite3")

    def register(server):
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(store), server)
        return "influencers.v1.AnalyticsService"

    server = build_server("analytics", "127.0.0.1", 0, [register], token="s3cret")
    yield server.port
    server.stop(0)
    store.close()


def test_calls_without_the_token_are_refused(guarded):
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{guarded}"))
    with pytest.raises(grpc.RpcError) as err:
        stub.GetReport(analytics_pb2.GetReportRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_calls_with_the_token_pass_and_health_needs_none(guarded):
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{guarded}", token="s3cret"))
    assert stub.GetReport(analytics_pb2.GetReportRequest(), timeout=5).videos == 0
    health = health_pb2_grpc.HealthStub(open_channel(f"127.0.0.1:{guarded}"))
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_binding_beyond_loopback_without_a_token_is_refused():
    with pytest.raises(ValueError, match="needs a token"):
        build_server("x", "0.0.0.0", 0, [])
