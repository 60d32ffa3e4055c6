"""Liveness means the process answers; readiness means its stores are reachable. A store outage turns
readiness NOT_SERVING and leaves liveness SERVING, so probes stop traffic without restarting the process."""

import importlib.util
import logging
import socket
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.database import open_engine
from services.common.rpc import LIVENESS, READINESS, build_server, named_checks, not_ready_reason, open_channel
from services.common.settings import Settings
from services.identity.process import IdentityProcess
from services.ingest.server import IngestProcess

ROOT = Path(__file__).resolve().parents[2]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def load_healthcheck():
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def status(port: int, name: str) -> int:
    stub = health_pb2_grpc.HealthStub(open_channel(f"127.0.0.1:{port}"))
    return stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status


def wait_for(port: int, name: str, wanted: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while status(port, name) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return status(port, name)


@pytest.fixture
def flaky_store_server():
    up = {"ok": True}
    server = build_server("probe", "127.0.0.1", 0, [], max_workers=2)
    server.watch(lambda: up["ok"], interval_s=0.05)
    yield server, up
    server.stop(0)


def test_with_the_store_down_readiness_is_not_serving_and_liveness_is_serving(flaky_store_server):
    server, up = flaky_store_server
    up["ok"] = False
    assert wait_for(server.port, READINESS, NOT_SERVING, 5) == NOT_SERVING
    assert status(server.port, LIVENESS) == SERVING
    up["ok"] = True
    assert wait_for(server.port, READINESS, SERVING, 5) == SERVING
    assert status(server.port, LIVENESS) == SERVING


def test_a_probe_that_raises_counts_as_not_ready_and_still_alive():
    server = build_server("probe", "127.0.0.1", 0, [], max_workers=2)

    def broken() -> bool:
        raise ConnectionError("store unreachable")

    try:
        server.watch(broken, interval_s=0.05)
        assert wait_for(server.port, READINESS, NOT_SERVING, 5) == NOT_SERVING
        assert status(server.port, LIVENESS) == SERVING
    finally:
        server.stop(0)


def test_a_readiness_turn_is_logged_once_naming_the_dependency_and_once_when_ready_again(caplog):
    up, checks, checked_while_down = {"ok": True}, [], threading.Event()

    def store() -> bool:
        checks.append(up["ok"])
        if checks.count(False) >= 5:
            checked_while_down.set()
        if not up["ok"]:
            raise ConnectionError("connection to 127.0.0.1:1 refused")
        return True

    caplog.set_level(logging.INFO, logger="services.common.rpc")
    server = build_server("probe", "127.0.0.1", 0, [], max_workers=2)
    try:
        server.watch(named_checks(("the face workers", lambda: True), ("the vector store", store)), interval_s=0.05)
        assert wait_for(server.port, READINESS, SERVING, 5) == SERVING
        up["ok"] = False
        assert wait_for(server.port, READINESS, NOT_SERVING, 5) == NOT_SERVING
        assert checked_while_down.wait(5), "the store was checked several times while down"
        up["ok"] = True
        assert wait_for(server.port, READINESS, SERVING, 5) == SERVING
    finally:
        server.stop(0)
    turns = [r for r in caplog.records if r.name == "services.common.rpc" and " ready" in r.getMessage()]
    assert [r.levelname for r in turns] == ["WARNING", "INFO"], "one line each way, not one per check"
    assert turns[0].getMessage().startswith(
        "probe not ready: the vector store: ConnectionError: connection to 127.0.0.1:1 refused (readiness NOT_SERVING")
    assert turns[1].getMessage().startswith("probe ready again after ")


def test_a_check_that_answers_no_is_named_and_a_database_error_is_its_drivers_line_without_the_password():
    with pytest.raises(Exception) as no:
        named_checks(("the face workers", lambda: False))()
    assert not_ready_reason(no.value) == "the face workers does not answer"
    engine = open_engine("postgresql://someone:hunter2@127.0.0.1:1/influencers")
    try:
        with pytest.raises(Exception) as down:
            named_checks(("the change feed's database", lambda: engine.connect().close() or True))()
    finally:
        engine.dispose()
    reason = not_ready_reason(down.value)
    assert reason.startswith("the change feed's database: the database is unreachable: connection failed")
    assert "hunter2" not in reason and "SELECT" not in reason and "sqlalche.me" not in reason and "\n" not in reason


def test_the_container_check_answers_live_and_not_ready_while_the_store_is_down(flaky_store_server, monkeypatch,
                                                                                 capsys):
    server, up = flaky_store_server
    healthcheck = load_healthcheck()
    monkeypatch.setenv("INFLUENCERS_IDENTITY_PORT", str(server.port))
    up["ok"] = False
    wait_for(server.port, READINESS, NOT_SERVING, 5)
    assert healthcheck.main(["healthcheck.py", "--live", "identity"]) == 0
    assert healthcheck.main(["healthcheck.py", "--ready", "identity"]) == 1
    assert healthcheck.main(["healthcheck.py", "identity"]) == 1  # readiness is the default
    assert "NOT_SERVING" in capsys.readouterr().err
    up["ok"] = True
    wait_for(server.port, READINESS, SERVING, 5)
    assert healthcheck.main(["healthcheck.py", "--ready", "identity"]) == 0


def test_the_container_check_refuses_an_unknown_flag_or_service(capsys):
    healthcheck = load_healthcheck()
    assert healthcheck.main(["healthcheck.py", "--sideways", "identity"]) == 1
    assert healthcheck.main(["healthcheck.py", "--live", "qdrant"]) == 1
    assert "usage" in capsys.readouterr().err


def test_the_analytics_service_with_its_store_closed_is_alive_but_not_ready(tmp_path):
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    running = serve_analytics(Settings(analytics_port=0), store)
    try:
        assert wait_for(running.port, READINESS, SERVING, 5) == SERVING
        store.close()  # the store goes away under the running server
        assert wait_for(running.port, READINESS, NOT_SERVING, 8) == NOT_SERVING
        assert status(running.port, LIVENESS) == SERVING
    finally:
        running.stop(0)


def test_a_call_that_meets_its_database_unreachable_answers_unavailable_so_callers_try_again(tmp_path):
    # Before, it answered INTERNAL, which ingest takes for a failure of the row: a PostgreSQL restart mid-job
    # failed the rows in flight for good.
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    running = serve_analytics(Settings(analytics_port=0), store)
    stub = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{running.port}"))
    try:
        store._engine = open_engine("postgresql://nobody@127.0.0.1:1/none")  # the database goes away
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetVideo(analytics_pb2.GetVideoRequest(video_id="ab" * 8), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "database" in refused.value.details() and "nobody" not in refused.value.details()
    finally:
        running.stop(0)


def test_the_ingest_service_with_its_job_database_unreachable_is_alive_but_not_ready(tmp_path):
    # Before, ingest's readiness was set once at start: with PostgreSQL down it stayed SERVING (and
    # influencers_ready 1) while every worker failed to take a row.
    process = IngestProcess(Settings(data_dir=tmp_path, ingest_port=0))
    try:
        assert wait_for(process.port, READINESS, SERVING, 5) == SERVING
        process.engine = open_engine("postgresql://nobody@127.0.0.1:1/none")  # the database goes away
        assert wait_for(process.port, READINESS, NOT_SERVING, 8) == NOT_SERVING
        assert status(process.port, LIVENESS) == SERVING
    finally:
        process.stop(grace_s=0)


def test_the_identity_service_with_its_change_feeds_database_unreachable_is_alive_but_not_ready(tmp_path):
    # Every correction and every batch writes the feed: with its database down, identity can only fail.
    process = IdentityProcess(Settings(data_dir=tmp_path, identity_port=0, workers=1))
    try:
        assert wait_for(process.port, READINESS, SERVING, 30) == SERVING
        process.feed.engine = open_engine("postgresql://nobody@127.0.0.1:1/none")  # the database goes away
        assert wait_for(process.port, READINESS, NOT_SERVING, 8) == NOT_SERVING
        assert status(process.port, LIVENESS) == SERVING
    finally:
        process.stop(grace_s=0)


def test_a_draining_server_is_not_ready_though_its_store_answers_and_is_still_alive(flaky_store_server):
    server, up = flaky_store_server
    server.drain()
    time.sleep(0.3)  # several rounds of the store check (every 0.05 s), each finding the store up
    assert status(server.port, READINESS) == NOT_SERVING
    assert status(server.port, LIVENESS) == SERVING


class _RowsInFlight:
    """Stands in for ingest's job runner: its stop() is where a stopping ingest waits for the rows it runs (up
    to a minute); it notes the readiness a probe sees meanwhile."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.readiness_while_stopping: int | None = None

    def stop(self) -> None:
        self.readiness_while_stopping = status(self.port, READINESS)


def test_a_stopping_ingest_is_not_ready_while_its_rows_in_flight_finish(tmp_path):
    # Before, readiness stayed SERVING until the rows in flight had finished and the server itself stopped.
    process = IngestProcess(Settings(data_dir=tmp_path, ingest_port=0))
    real_jobs, process.jobs = process.jobs, _RowsInFlight(process.port)
    try:
        assert wait_for(process.port, READINESS, SERVING, 5) == SERVING
        process.stop(grace_s=0)
        assert process.jobs.readiness_while_stopping == NOT_SERVING
    finally:
        real_jobs.stop()


def test_a_stopped_server_is_no_longer_live():
    server = build_server("probe", "127.0.0.1", 0, [], max_workers=2)
    health = server.health
    server.stop(0)
    reply = health.Check(health_pb2.HealthCheckRequest(service=LIVENESS), None)
    assert reply.status == NOT_SERVING


def test_the_k8s_probes_ask_liveness_for_restarts_and_readiness_for_traffic():
    import yaml

    for name in ("identity", "ingest", "analytics"):
        docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / f"{name}.yaml").read_text()))
        containers = [c for d in docs if d and d.get("kind") in ("Deployment", "StatefulSet")
                      for c in d["spec"]["template"]["spec"]["containers"]]
        assert containers, name
        checks = load_healthcheck().CHECKS  # the probes run the image's health check (it speaks TLS when on)
        for c in containers:
            assert checks[c["livenessProbe"]["exec"]["command"][2]] == LIVENESS
            assert checks[c["startupProbe"]["exec"]["command"][2]] == LIVENESS
            assert checks[c["readinessProbe"]["exec"]["command"][2]] == READINESS


def test_compose_orders_start_up_by_readiness():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("identity", "ingest", "analytics"):
        assert services[name]["healthcheck"]["test"][-2:] == ["--ready", name]


def test_a_server_started_on_a_port_a_client_found_dead_answers_at_once(monkeypatch):
    # In gRPC's shared subchannel pool, the old channel's backoff answered for the new one: "Connection
    # refused" for seconds from a server that had just logged "serving" (CI: the kernel gave the port again).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    healthcheck = load_healthcheck()
    monkeypatch.setenv("INFLUENCERS_IDENTITY_PORT", str(port))
    dead = health_pb2_grpc.HealthStub(open_channel(f"127.0.0.1:{port}"))
    for _ in range(2):  # twice: the second attempt is the one that sets a longer backoff
        with pytest.raises(grpc.RpcError) as refused:
            dead.Check(health_pb2.HealthCheckRequest(), timeout=1)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert healthcheck.main(["healthcheck.py", "identity"]) == 1
    server = build_server("probe", "127.0.0.1", port, [], max_workers=2)
    try:
        assert status(port, READINESS) == SERVING
        assert healthcheck.main(["healthcheck.py", "identity"]) == 0
    finally:
        server.stop(0)
