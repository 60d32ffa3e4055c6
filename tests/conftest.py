"""Fixtures every layer of tests may use."""

import subprocess

import pytest

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
