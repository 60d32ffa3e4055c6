"""A service that migrates its store at start answers health meanwhile (services/common/starting.py): liveness
SERVING, so that k8s' startup probe does not kill a long migration, readiness NOT_SERVING until it is done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from services.common.database import open_engine
from services.common.rpc import wait_healthy
from services.common.starting import StartingHealth
from services.ingest.job_store import HISTORY
from tests.support.fleet import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def _status(stub: health_pb2_grpc.HealthStub, name: str) -> int | None:
    """The answer for health name `name`, None while nothing answers on the port."""
    try:
        return stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2).status
    except grpc.RpcError:
        return None


def _until(stub: health_pb2_grpc.HealthStub, name: str, wanted: int, process: subprocess.Popen,
           timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (status := _status(stub, name)) != wanted:
        assert process.poll() is None, f"the service exited with {process.returncode}"
        assert time.monotonic() < deadline, f"health {name!r} answered {status} for {timeout_s} s, not {wanted}"
        time.sleep(0.1)


def _ready_metric(port: int) -> str:
    """influencers_ready{service="ingest"} as the process's metrics endpoint shows it."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    (line,) = [x for x in text.splitlines() if x.startswith('influencers_ready{service="ingest"}')]
    return line.split()[-1]


def test_a_service_whose_migration_waits_answers_live_and_not_ready_until_it_has_migrated(
        tmp_path, postgres_url) -> None:
    # Before, nothing answered on the port until the store was migrated: a probe could not tell a start in progress
    # from a dead process, and k8s' startup probe killed a migration running past 10 minutes (rolled back, begun
    # again at the next start). The migration here waits for another replica's (its lock held by the test).
    # Its metrics answer meanwhile too, influencers_ready 0: InfluencersDown paged a migration past 5 minutes.
    port, metrics_port = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env = {**clean, "INFLUENCERS_DATABASE_URL": postgres_url, "INFLUENCERS_INGEST_PORT": str(port),
           "INFLUENCERS_METRICS_PORT": str(metrics_port)}
    engine = open_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    other_replica = engine.connect()
    other_replica.begin()
    other_replica.execute(sa.select(sa.func.pg_advisory_xact_lock(HISTORY.lock_key)))
    process = subprocess.Popen([sys.executable, "-m", "influencers", "service", "ingest", "--data-dir",
                                str(tmp_path / "d")], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    err = ""
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            _until(stub, "liveness", SERVING, process)
            for _ in range(10):  # for as long as the migration waits: alive, not ready
                assert _status(stub, "") == NOT_SERVING
                assert _status(stub, "liveness") == SERVING
                time.sleep(0.2)
            assert _ready_metric(metrics_port) == "0.0"
            other_replica.rollback()  # the other replica's migration is done
            _until(stub, "", SERVING, process)
            assert _status(stub, "liveness") == SERVING
            assert _ready_metric(metrics_port) == "1.0"
    finally:
        other_replica.close()
        engine.dispose()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert f"migrating the ingest job queue from nothing to {HISTORY.head()}" in err, err
    assert "Traceback" not in err, err


def test_a_call_to_a_service_still_starting_is_answered_unavailable_so_its_caller_tries_again(tmp_path) -> None:
    # Found running docs/fleet.md's fleet (session 42): a job submitted while analytics was still migrating had
    # every row failed "analytics.GetVideo failed: UNIMPLEMENTED Method not found!" (the health-only server knew
    # no other method), where UNAVAILABLE, as a restart answers, gives each row back to the queue.
    port = free_port()
    starting = StartingHealth("analytics", "127.0.0.1", port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            with pytest.raises(grpc.RpcError) as unary:
                analytics_pb2_grpc.AnalyticsServiceStub(channel).GetVideo(
                    analytics_pb2.GetVideoRequest(video_id="0" * 16), timeout=5)
            with pytest.raises(grpc.RpcError) as streaming:
                list(ingest_pb2_grpc.IngestServiceStub(channel).WatchJob(ingest_pb2.WatchJobRequest(job_id="j"),
                                                                        timeout=5))
            health = health_pb2_grpc.HealthStub(channel)
            assert _status(health, "liveness") == SERVING
            assert _status(health, "") == NOT_SERVING  # readiness
    finally:
        starting.handover()
    for caught in (unary, streaming):
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert caught.value.details() == "analytics is starting: its stores are being opened and migrated"


def test_a_client_waiting_for_a_service_still_starting_waits_until_it_serves_and_no_longer(tmp_path) -> None:
    # Found running docs/fleet.md's fleet (session 42): `influencers ingest` right after the replicas' start failed
    # at once, "not ready: it did not answer its health check within 60 s", after 0.05 s: wait_healthy took the
    # starting service's first NOT_SERVING as its answer.
    port = free_port()
    starting = StartingHealth("ingest", "127.0.0.1", port)
    started: list[grpc.Server] = []

    def hand_over_after_a_second() -> None:
        time.sleep(1.0)
        starting.handover()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)  # "" answers SERVING
        server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        started.append(server)

    later = threading.Thread(target=hand_over_after_a_second)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            began = time.monotonic()
            with pytest.raises(TimeoutError, match="NOT_SERVING"):
                wait_healthy(channel, timeout_s=0.5)
            assert time.monotonic() - began >= 0.5
            later.start()
            wait_healthy(channel, timeout_s=30)
            assert started, "it returned once the service's own server answered"
    finally:
        if later.is_alive():
            later.join()
        starting.handover()
        for server in started:
            server.stop(None)


def test_serve_answers_health_on_each_of_its_ports_while_it_migrates_as_a_service_does(tmp_path, postgres_url) -> None:
    # Before, `influencers run` and `serve` opened and migrated every store before any server existed: nothing
    # answered on their ports meanwhile, and only `service NAME` said "alive, not ready". The migration here waits
    # for another replica's (analytics' lock held by the test), ahead of every service's start.
    from services.analytics.store_schema import HISTORY as ANALYTICS_HISTORY

    ports = {name: free_port() for name in ("ingest", "identity", "analytics")}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env = {**clean, "INFLUENCERS_DATABASE_URL": postgres_url}
    engine = open_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    other_replica = engine.connect()
    other_replica.begin()
    other_replica.execute(sa.select(sa.func.pg_advisory_xact_lock(ANALYTICS_HISTORY.lock_key)))
    process = subprocess.Popen([sys.executable, "-m", "influencers", "serve", "--data-dir", str(tmp_path / "d"),
                                *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
                                "--web-port", "0", "--metrics-port", "0"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    channels = {name: grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
                for name, port in ports.items()}
    err = ""
    try:
        stubs = {name: health_pb2_grpc.HealthStub(channel) for name, channel in channels.items()}
        for stub in stubs.values():
            _until(stub, "liveness", SERVING, process)
        for _ in range(5):  # for as long as the migration waits: alive, not ready, on every port
            assert {name: _status(stub, "") for name, stub in stubs.items()} == dict.fromkeys(ports, NOT_SERVING)
            assert {name: _status(stub, "liveness") for name, stub in stubs.items()} == dict.fromkeys(ports, SERVING)
            time.sleep(0.2)
        other_replica.rollback()  # the other replica's migration is done
        for stub in stubs.values():
            _until(stub, "", SERVING, process, timeout_s=120.0)
            assert _status(stub, "liveness") == SERVING
    finally:
        for channel in channels.values():
            channel.close()
        other_replica.close()
        engine.dispose()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert "Traceback" not in err, err
