"""A real PostgreSQL server for the tests: Debian's package (deploy/system-deps.sh --dev installs it), started
in a temporary folder on a free loopback port. The server refuses to run as root and CI runs as root, so it
runs as the `postgres` system user then. No mock: tests talk to the real engine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ROOTS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    return next((p for p in PG_ROOTS if (p / "pg_ctl").is_file()), None)


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One running server; `url()` of a new empty database on it (for a test of its own)."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Creates an empty database and returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        subprocess.run(_as_server_user([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                        "-U", self.user, name]), check=True, capture_output=True)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.root / "db"), "-m", "immediate",
                                        "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Starts a throwaway server (trust authentication on loopback only) and stops it afterwards."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (bash deploy/system-deps.sh --dev installs it)")
    root = Path(tempfile.mkdtemp(prefix="influencers-pg-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    server = PostgresServer(bindir, root, port)
    subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(root / "db"), "-A", "trust", "-U",
                                    server.user, "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off " \
              "-c max_connections=200"
    subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(root / "db"), "-o", options, "-l",
                                    str(root / "log"), "-w", "start"]), check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {(root / 'log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()
