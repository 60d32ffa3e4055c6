"""Every server answers the standard health service and reflection, and health follows its store."""

import threading
import time

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.common.rpc import build_server, open_channel


def test_each_service_is_serving_and_lists_its_services_by_reflection(stack):
    s = stack.settings
    for port, name in [(s.ingest_port, "influencers.v1.IngestService"),
                       (s.identity_port, "influencers.v1.IdentityService"),
                       (s.analytics_port, "influencers.v1.AnalyticsService")]:
        channel = open_channel(f"127.0.0.1:{port}")
        health = health_pb2_grpc.HealthStub(channel)
        # Readiness says SERVING once the service's first readiness check has passed, in a thread of its own
        # (RunningServer.watch): on a loaded machine the first Check can come before it (CI: NOT_SERVING).
        deadline = time.monotonic() + 30
        while (said := health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status) != \
                health_pb2.HealthCheckResponse.SERVING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert said == health_pb2.HealthCheckResponse.SERVING, (name, said)
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        reply = next(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                               timeout=5))
        assert name in {svc.name for svc in reply.list_services_response.service}


def test_health_turns_not_serving_while_a_dependency_is_down_and_back():
    up = {"ok": True}
    server = build_server("probe", "127.0.0.1", 0, [], max_workers=2)
    server.watch(lambda: up["ok"], interval_s=0.05)
    health = health_pb2_grpc.HealthStub(open_channel(f"127.0.0.1:{server.port}"))

    def status_within(wanted: int, timeout_s: float = 10.0) -> int:
        """The status once it is `wanted`, or as it is after `timeout_s` (the watch polls every 0.05 s; a fixed
        sleep of 0.3 s could end before a busy machine ran the watch)."""
        deadline = time.monotonic() + timeout_s
        while True:
            said = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
            if said == wanted or time.monotonic() > deadline:
                return said
            time.sleep(0.05)

    try:
        up["ok"] = False
        assert status_within(health_pb2.HealthCheckResponse.NOT_SERVING) == health_pb2.HealthCheckResponse.NOT_SERVING
        up["ok"] = True
        assert status_within(health_pb2.HealthCheckResponse.SERVING) == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop(0)


def test_a_port_in_use_is_refused_not_shared():
    import pytest

    first = build_server("first", "127.0.0.1", 0, [])
    try:
        with pytest.raises(OSError, match="cannot bind"):
            build_server("second", "127.0.0.1", first.port, [])
    finally:
        first.stop(0)


def _readiness(port: int, service: str = "") -> int:
    health = health_pb2_grpc.HealthStub(open_channel(f"127.0.0.1:{port}"))
    return health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_readiness_is_not_serving_until_the_first_readiness_check_has_passed():
    from prometheus_client import REGISTRY

    answered, release = threading.Event(), threading.Event()

    def slow_check() -> bool:  # a store that takes its time to answer the first time
        answered.set()
        return release.wait(30)

    server = build_server("slowprobe", "127.0.0.1", 0, [_register_echo], max_workers=2, ready=slow_check)
    try:
        assert answered.wait(10)
        # Was SERVING from the bind on: gRPC's health servicer starts with "" SERVING, and build_server said so too.
        assert _readiness(server.port) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _readiness(server.port, "test.Echo") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _readiness(server.port, "liveness") == health_pb2.HealthCheckResponse.SERVING
        assert REGISTRY.get_sample_value("influencers_ready", {"service": "slowprobe"}) == 0
        release.set()
        deadline = time.monotonic() + 10
        while _readiness(server.port) != health_pb2.HealthCheckResponse.SERVING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _readiness(server.port) == health_pb2.HealthCheckResponse.SERVING
        assert REGISTRY.get_sample_value("influencers_ready", {"service": "slowprobe"}) == 1
    finally:
        release.set()
        server.stop(0)


def test_a_readiness_check_that_fails_from_the_start_never_lets_readiness_say_serving():
    checks = []

    def failing() -> bool:
        checks.append(time.monotonic())
        raise ConnectionRefusedError("the store is not there")

    server = build_server("deadprobe", "127.0.0.1", 0, [], max_workers=2, ready=failing)
    try:
        statuses = set()
        deadline = time.monotonic() + 20
        while len(checks) < 3 and time.monotonic() < deadline:
            statuses.add(_readiness(server.port))
            time.sleep(0.02)
        assert statuses == {health_pb2.HealthCheckResponse.NOT_SERVING}
        # Tried again soon while it has never passed (after 0.1, 0.2, 0.4 s ...), not once per 5 s interval.
        assert len(checks) >= 3 and checks[2] - checks[0] < 4.5
    finally:
        server.stop(0)


def _register_echo(server) -> str:
    import grpc

    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(lambda request, context: request)}),))
    return "test.Echo"
