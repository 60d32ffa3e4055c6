"""Fixtures every layer of tests may use."""

import subprocess

import pytest

from services.common.database import database_url
from tests.support.postgres import running_postgres


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the whole run (started on first use, stopped at the end)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A new empty database on the test server: postgresql://USER@127.0.0.1:PORT/NAME."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def analytics_db_url(request, tmp_path) -> str:
    """The database of a new analytics store, once on SQLite (tmp_path/analytics.sqlite3) and once on the test
    PostgreSQL server: a test taking it runs on both engines."""
    if request.param == "sqlite":
        return database_url("", tmp_path / "analytics.sqlite3")
    return database_url(request.getfixturevalue("postgres_url"), tmp_path / "unused")


@pytest.fixture
def tmpfs(tmp_path):
    """tmpfs(size) -> a folder on a new tmpfs of `size` ("1m", "160m"; root only, else the test is skipped),
    unmounted after the test: a disk that fills up."""
    mounts = []

    def mount(size: str):
        folder = tmp_path / f"disk{len(mounts)}"
        folder.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)
