"""Fixtures every layer of tests may use."""

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
