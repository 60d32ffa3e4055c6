"""A damaged SQLite store (analytics, the ingest job queue, identity's change feed: cut short or overwritten)
is refused at start naming that file and what to do, never reported as another store's damage."""

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from sqlalchemy.engine import Engine

from services.analytics.store_schema import migrate as migrate_analytics
from services.common.damage import StoreDamaged
from services.common.database import database_url, open_engine
from services.identity.feed import migrate as migrate_feed
from services.ingest.job_store import migrate as migrate_jobs

ROOT = Path(__file__).resolve().parents[2]
STORES = {
    "analytics.sqlite3": ("analytics store", migrate_analytics),
    "ingest/jobs.sqlite3": ("ingest job queue", migrate_jobs),
    "identity/feed.sqlite3": ("identity change feed", migrate_feed),
}


def made(data: Path, relative: str, migrate: Callable[[Engine], None]) -> Path:
    """The store's SQLite file, migrated and closed."""
    engine = open_engine(database_url("", data / relative))
    migrate(engine)
    engine.dispose()
    return data / relative


def overwrite_header(path: Path) -> None:
    with path.open("r+b") as f:
        f.write(b"\x00garbage" * 8)


def cut_short(path: Path) -> None:
    os.truncate(path, 1000)  # inside the first page: past the header, not a whole database


def overwrite_a_table(path: Path) -> None:
    """Garbage over the first page of a table other than the schema's version (the header and the schema's
    page left whole): the upgrade itself reads none of it."""
    with sqlite3.connect(path) as con:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        root = con.execute("select max(rootpage) from sqlite_master where type = 'table' and name not like "
                           "'alembic%'").fetchone()[0]
    con.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x07garbage" * (page_size // 8))


@pytest.mark.parametrize("relative", STORES)
@pytest.mark.parametrize("damage", [overwrite_header, cut_short, overwrite_a_table])
def test_a_damaged_store_file_is_refused_naming_it_and_what_to_do(tmp_path, relative, damage):
    name, migrate = STORES[relative]
    path = made(tmp_path, relative, migrate)
    damage(path)
    with pytest.raises(StoreDamaged) as refused:
        migrate(open_engine(database_url("", path)))
    message = str(refused.value)
    assert message.startswith(f"the {name} {path} is damaged (") and "\n" not in message
    assert "restore it from a backup, or remove it with its -wal and -shm files" in message


def test_a_whole_store_still_migrates_as_before(tmp_path):
    for relative, (_, migrate) in STORES.items():
        migrate(open_engine(database_url("", made(tmp_path, relative, migrate))))


def test_serve_on_a_damaged_job_queue_names_the_job_queue_not_the_analytics_store(tmp_path):
    data = tmp_path / "d"
    overwrite_header(made(data, "ingest/jobs.sqlite3", migrate_jobs))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    result = subprocess.run(
        [sys.executable, "-m", "influencers", "serve", "--data-dir", str(data), "--ingest-port", "0",
         "--identity-port", "0", "--analytics-port", "0", "--web-port", "0", "--metrics-port", "0"],
        capture_output=True, text=True, cwd=ROOT, env=clean, timeout=120)
    errors = [line for line in result.stderr.splitlines() if line.startswith("influencers: error:")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert errors == [f"influencers: error: the ingest job queue {data / 'ingest' / 'jobs.sqlite3'} is damaged "
                      "(file is not a database): restore it from a backup, or remove it with its -wal and -shm "
                      "files (the job history is lost; a manifest run again analyses only the videos not yet "
                      "held)"], result.stderr


def listening_ports() -> set[int]:
    return {c.laddr.port for c in psutil.Process().net_connections("tcp") if c.status == psutil.CONN_LISTEN}


def test_a_stack_that_cannot_start_ingest_stops_the_services_it_had_started(settings):
    # Found by the test above, now and then: analytics and identity, started before ingest met its damaged
    # queue, were left serving, took a call while the interpreter shut down, and printed grpc's traceback
    # ("cannot schedule new futures after interpreter shutdown") under the one-line error.
    from influencers.stack import start_stack

    overwrite_header(made(settings.data_dir, "ingest/jobs.sqlite3", migrate_jobs))
    before = listening_ports()
    with pytest.raises(StoreDamaged, match="the ingest job queue"):
        start_stack(settings, web=False)
    assert listening_ports() == before, "analytics' and identity's ports are closed again"
