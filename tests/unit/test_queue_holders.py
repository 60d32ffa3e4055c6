"""Whether an ingest process is alone with its SQLite job queue (services/ingest/queue_holders.py): then the
leases a killed process left are taken at once; with another process holding the file, or on PostgreSQL
(replicas on other machines), they are waited out."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.ingest.queue_holders import QueueHolders, sqlite_file


def test_the_first_process_to_open_a_queue_file_is_alone_with_it(tmp_path: Path) -> None:
    first = QueueHolders(tmp_path / "jobs.sqlite3")
    try:
        assert first.alone
    finally:
        first.close()


def test_a_process_opening_a_queue_file_another_live_process_holds_is_not_alone(tmp_path: Path) -> None:
    first = QueueHolders(tmp_path / "jobs.sqlite3")
    first.share()
    try:
        second = QueueHolders(tmp_path / "jobs.sqlite3")
        second.share()
        assert not second.alone
        second.close()
    finally:
        first.close()
    third = QueueHolders(tmp_path / "jobs.sqlite3")  # the others are gone (closed, or killed: the kernel drops it)
    assert third.alone
    third.close()


def test_a_queue_on_postgresql_is_never_held_alone() -> None:
    engine = sa.create_engine("postgresql+psycopg://app@db.example/jobs")
    assert sqlite_file(engine) is None
    holders = QueueHolders(sqlite_file(engine))
    assert not holders.alone
    holders.share()
    holders.close()


def test_a_sqlite_queue_is_held_through_its_file(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    assert sqlite_file(engine) == tmp_path / "jobs.sqlite3"
    assert sqlite_file(sa.create_engine("sqlite://")) is None
