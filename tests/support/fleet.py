"""A fleet on one machine, as an operator runs it: PostgreSQL, one identity, two analytics and two ingest
replicas, each its own process (`influencers service NAME`), found through the same settings a container
gets (ports, INFLUENCERS_*_ADDR, INFLUENCERS_DATABASE_URL, INFLUENCERS_WORKER_NAME). Used by the fleet test
(smoke corpus) and bench/fleet.py (dev corpus, with kills and timings).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.postgres import PostgresServer

INFLUENCERS = [sys.executable, "-m", "influencers"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Replica:
    """One service process of the fleet."""

    name: str
    service: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([*INFLUENCERS, "service", self.service], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL of the whole process group (its face workers too), as the OOM killer or a node loss does."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_serving(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(self.target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}: "
                                       f"{self.log.read_text(errors='replace')[-3000:]}")
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not serving after {timeout_s:g} s")
                time.sleep(0.2)


@dataclass
class Fleet:
    """PostgreSQL + identity + 2 analytics + 2 ingest replicas, in `root`."""

    root: Path
    database_url: str
    workers: int = 2
    replicas: dict[str, Replica] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.identity_port = free_port()
        self.analytics_ports = [free_port(), free_port()]
        for k, port in enumerate(self.analytics_ports, 1):
            self._add(f"analytics-{k}", "analytics", port, web_port=free_port())
        self._add("identity", "identity", self.identity_port)
        for k in (1, 2):
            self._add(f"ingest-{k}", "ingest", free_port())

    def _add(self, name: str, service: str, port: int, web_port: int = 0) -> None:
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
        env.update({
            "INFLUENCERS_DATA_DIR": str(data),
            "INFLUENCERS_DATABASE_URL": self.database_url,
            "INFLUENCERS_WORKER_NAME": name,
            "INFLUENCERS_WORKERS": str(self.workers),
            "INFLUENCERS_ALLOW_PRIVATE_URLS": "1",
            f"INFLUENCERS_{service.upper()}_PORT": str(port),
            "INFLUENCERS_IDENTITY_ADDR": f"127.0.0.1:{self.identity_port}",
            # Both analytics replicas behind one target, as a Service routes them: gRPC's name resolver gives
            # the two addresses and the channel moves to the live one when the other dies.
            "INFLUENCERS_ANALYTICS_ADDR": "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in self.analytics_ports),
            "INFLUENCERS_WEB_PORT": str(web_port or free_port()),
            "INFLUENCERS_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        })
        self.replicas[name] = Replica(name, service, port, env, self.root / f"{name}.log")

    def env_for(self, name: str) -> dict[str, str]:
        """The environment a client command uses to reach replica `name` (its ingest port, the database)."""
        return self.replicas[name].env

    def start(self) -> None:
        # Identity first: analytics follows its feed; ingest calls both.
        order = ["identity", "analytics-1", "analytics-2", "ingest-1", "ingest-2"]
        for name in order:
            self.replicas[name].start()
        for name in order:
            self.replicas[name].wait_serving()

    def stop(self) -> None:
        for replica in self.replicas.values():
            replica.stop()

    def cli(self, via: str, *args: str, timeout_s: float = 3600) -> subprocess.CompletedProcess[str]:
        """Runs `influencers ARGS` as a client of replica `via` (an ingest replica for jobs)."""
        return subprocess.run([*INFLUENCERS, *args], env=self.env_for(via), capture_output=True, text=True,
                              timeout=timeout_s)

    def job_progress(self, via: str, job: str) -> tuple[int, int]:
        """(rows done, rows) of `job`, read from `influencers jobs` through replica `via`; (0, 1) while it is not
        listed. The line's "N/M videos" is found wherever the columns put it (a submission time came before it)."""
        for line in self.cli(via, "jobs", timeout_s=60).stdout.splitlines():
            progress = re.search(r"(\d+)/(\d+) videos", line) if line.startswith(job) else None
            if progress:
                return int(progress.group(1)), int(progress.group(2))
        return 0, 1

    def feed_leader(self, postgres: PostgresServer) -> str | None:
        """The analytics replica holding the feed's advisory lock (found from PostgreSQL's side: the lock's
        session, its client port, and the process that owns that port)."""
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", postgres.user, "-At", "-d",
             self.database_url.rsplit("/", 1)[1], "-c",
             "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
             "WHERE l.locktype = 'advisory' AND l.granted"], capture_output=True, text=True)
        ports = {int(p) for p in out.stdout.split() if p.strip().isdigit()}
        for name in ("analytics-1", "analytics-2"):
            process = self.replicas[name].process
            if process is None or process.poll() is not None:
                continue
            try:
                owned = {c.laddr.port for c in psutil.Process(process.pid).net_connections(kind="tcp")}
            except psutil.Error:
                continue
            if owned & ports:
                return name
        return None
