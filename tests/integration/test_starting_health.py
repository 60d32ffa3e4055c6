"""A service that migrates its store at start answers health meanwhile (services/common/starting.py): liveness
SERVING, so that k8s' startup probe does not kill a long migration, readiness NOT_SERVING until it is done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.database import open_engine
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


def test_a_service_whose_migration_waits_answers_live_and_not_ready_until_it_has_migrated(
        tmp_path, postgres_url) -> None:
    # Before, nothing answered on the port until the store was migrated: a probe could not tell a start in progress
    # from a dead process, and k8s' startup probe killed a migration running past 10 minutes (rolled back, begun
    # again at the next start). The migration here waits for another replica's (its lock held by the test).
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env = {**clean, "INFLUENCERS_DATABASE_URL": postgres_url, "INFLUENCERS_INGEST_PORT": str(port)}
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
            other_replica.rollback()  # the other replica's migration is done
            _until(stub, "", SERVING, process)
            assert _status(stub, "liveness") == SERVING
    finally:
        other_replica.close()
        engine.dispose()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert f"migrating the ingest job queue from nothing to {HISTORY.head()}" in err, err
    assert "Traceback" not in err, err


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
