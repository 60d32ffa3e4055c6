"""The newest migration of each store (analytics 0017 and ingest 0010 schemeless_link_tokens, identity 0004
trimmed_digest), run by a real child process SIGKILLed after its statements and before its commit, and again: the
store is whole at its old revision after the kill, at the newest after the next start, and keeps every row it held
(tests/support/migrate_child.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from services.analytics import store_schema
from services.common.database import open_engine
from services.identity import feed
from services.ingest import job_store
from tests.support.old_stores import store_at

ROOT = Path(__file__).resolve().parents[2]
CHILD = ROOT / "tests" / "support" / "migrate_child.py"
ROWS = [(f"/videos/{k}.mp4", f"/videos/{k}.mp4", f"{k:016x}", "done") for k in range(1, 4)]


def old_analytics(url: str) -> None:
    store_at(url, "0016", ROWS)
    engine = open_engine(url)
    with engine.connect() as c, c.begin():  # a merge in the trail, which 0016 indexed
        c.execute(sa.text("INSERT INTO audit (audit_id, position, time_s, action, actor, before_ids, after_ids) "
                          "VALUES ('" + "a" * 32 + "', 1, 1.0, 'merge', 'cli:ann', "
                          "'[\"inf_000000000a\", \"inf_000000000b\"]', '[\"inf_000000000b\"]')"))
    engine.dispose()


def old_ingest(url: str) -> None:
    engine = open_engine(url)
    with engine.connect() as c, c.begin():
        command.upgrade(job_store.HISTORY.config(c), "0009_more_secret_names")
        c.execute(sa.text("INSERT INTO ingest_jobs (job_id, state, total, done, base_dir, created_s, error, "
                          "cancel_requested) VALUES ('j1', 1, 3, 1, '/videos', 1.0, '', 0)"))
        c.execute(sa.text("INSERT INTO ingest_rows (job_id, idx, submission, state, attempts) VALUES "
                          "('j1', 0, x'', 0, 0), ('j1', 1, x'', 0, 0), ('j1', 2, x'', 2, 1)"))
    engine.dispose()


def old_identity(url: str) -> None:
    engine = open_engine(url)
    with engine.connect() as c, c.begin():
        command.upgrade(feed.HISTORY.config(c), "0003_feed_id")
        c.execute(sa.text("INSERT INTO identity_changes (position, created_at, change) VALUES "
                          "(2, 1.0, x''), (3, 2.0, x''), (4, 3.0, x'')"))
        c.execute(sa.text("INSERT INTO identity_changes_trimmed (id, through) VALUES (1, 1)"))
    engine.dispose()


STORES = {  # old store, its history, the revision before, the tables whose rows must all stay
    "analytics": (old_analytics, store_schema.HISTORY, "0016", ["urls", "videos", "audit"]),
    "ingest": (old_ingest, job_store.HISTORY, "0009_more_secret_names", ["ingest_jobs", "ingest_rows"]),
    "identity": (old_identity, feed.HISTORY, "0003_feed_id",
                 ["identity_changes", "identity_changes_trimmed", "identity_feed_id"]),
}


def state(url: str, tables: list[str], history) -> tuple[str | None, dict[str, list]]:
    engine = open_engine(url)
    try:
        with engine.connect() as c:
            rows = {t: sorted(map(tuple, c.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr) for t in tables}
            return history.current(c), rows
    finally:
        engine.dispose()


def migrate(kind: str, url: str, crash_at: str = "") -> int:
    env = {**os.environ, "INFLUENCERS_CRASH_AT": crash_at, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(CHILD), kind, url], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode in (0, -9), proc.stderr[-2000:]
    return proc.returncode


@pytest.mark.parametrize("kind", sorted(STORES))
def test_the_newest_migration_killed_before_its_commit_leaves_the_old_store_whole_and_runs_whole_next_time(
        tmp_path, kind) -> None:
    make, history, before, tables = STORES[kind]
    url = f"sqlite:///{tmp_path / f'{kind}.sqlite3'}"
    make(url)
    revision, held = state(url, tables, history)
    assert revision == before and all(held.values())

    assert migrate(kind, url, "migrate:upgraded") == -9
    assert state(url, tables, history) == (before, held), "the killed migration left part of its work"

    assert migrate(kind, url) == 0
    revision, now = state(url, tables, history)
    assert revision == history.head()
    assert {t: [r[:len(held[t][0])] for r in rows] for t, rows in now.items()} == held  # every row, once
    assert migrate(kind, url) == 0 and state(url, tables, history) == (revision, now)  # a next start: nothing to do
