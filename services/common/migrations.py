"""Schema histories run from the code with Alembic (no alembic.ini: each owner's scripts ship in its package).

Every owner of tables (analytics' store, ingest's job queue, identity's change feed) keeps its own history in
its own version table, so that they may share one PostgreSQL database. `upgrade` brings a database to the head
in ONE transaction: on PostgreSQL under the owner's advisory lock, on SQLite under BEGIN IMMEDIATE
(services/common/database.py), so two processes opening a database at once migrate it one after the other. A
database at a revision the code does not know (written by a newer release) is refused. A SQLite file is
checked first (`PRAGMA quick_check`: every page read once, its indexes not compared with their tables), so
that damaged pages, not only a damaged header, are refused at start rather than met by whichever call reads
them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from services.common.boundary import brief
from services.common.crash import crash_point
from services.common.damage import StoreDamaged
from services.common.database import is_postgres

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class History:
    """One owner's migrations: `name` for messages, the scripts' folder (its env.py configures Alembic with
    `version_table` on the connection handed over in `config().attributes["connection"]`), the
    pg_advisory_xact_lock key its upgrades take, and what removing its SQLite file costs (said when the file
    is damaged)."""

    name: str
    scripts: Path
    version_table: str
    lock_key: int
    when_removed: str = ""

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        return _head(self.scripts)

    def current(self, connection: Connection) -> str | None:
        """The revision the database is at (None: never migrated)."""
        context = MigrationContext.configure(connection, opts={"version_table": self.version_table})
        return context.get_current_revision()


@functools.cache
def _head(scripts: Path) -> str:
    head = ScriptDirectory.from_config(_scripts_config(scripts)).get_current_head()
    assert head is not None
    return head


@functools.cache
def _known(scripts: Path) -> frozenset[str]:
    return frozenset(s.revision for s in ScriptDirectory.from_config(_scripts_config(scripts)).walk_revisions())


def _scripts_config(scripts: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(scripts))
    return config


# SQLite's codes for a file that is not a whole database (cut short, overwritten, not SQLite at all).
_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


def upgrade(engine: Engine, history: History,
            before: Callable[[Connection, str | None], None] | None = None) -> None:
    """Brings `engine`'s database to `history`'s head in one transaction that other processes' upgrades wait
    for. `before(connection, revision)` runs first when there is something to do (an owner adopting a
    database from before its history, say). A revision the scripts do not know is refused; a damaged SQLite
    file (its header or any of its pages) is StoreDamaged naming it and what to do."""
    try:
        if not is_postgres(engine):
            _check_pages(engine)
        _upgrade(engine, history, before)
    except sa_exc.DatabaseError as exc:
        if getattr(exc.orig, "sqlite_errorname", "") not in _DAMAGED:
            raise
        raise _damaged(engine, history, str(exc.orig)) from None
    except _DamagedPages as exc:
        raise _damaged(engine, history, str(exc)) from None


class _DamagedPages(Exception):
    """What SQLite's quick_check found first."""


def _check_pages(engine: Engine) -> None:
    """_DamagedPages when SQLite's quick_check finds a fault in the file (never run on PostgreSQL)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql("PRAGMA quick_check(1)").scalars().all()
    if found != ["ok"]:
        raise _DamagedPages(" ".join(" ".join(map(str, found)).split()))  # one line: SQLite's may hold several


def _damaged(engine: Engine, history: History, reason: str) -> StoreDamaged:
    return StoreDamaged(f"the {history.name} {engine.url.database or ''} is damaged ({brief(reason, 200)}): "
                        f"restore it from a backup, or remove it with its -wal and -shm files "
                        f"({history.when_removed})")


def _upgrade(engine: Engine, history: History,
             before: Callable[[Connection, str | None], None] | None) -> None:
    with engine.connect() as connection, connection.begin():
        if is_postgres(engine):
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(history.lock_key)))
        revision = history.current(connection)
        if revision == history.head():
            return
        # Said before the work, which may take minutes: meanwhile the health service answers NOT_SERVING.
        log.info("migrating the %s from %s to %s", history.name, revision or "nothing", history.head())
        if before is not None:
            before(connection, revision)
        if revision is not None and revision not in _known(history.scripts):
            raise RuntimeError(f"the {history.name} database is at revision {revision}, which this release does "
                               f"not know (written by a newer release?)")
        command.upgrade(history.config(connection), "head")
        crash_point("migrate:upgraded")  # every revision run, the transaction not yet committed
