"""The SQL engines of analytics and the ingest job queue: SQLite files in the data dir (one machine, the
embedded default) or one PostgreSQL database (INFLUENCERS_DATABASE_URL) shared by every replica.

Callers write SQLAlchemy Core; this module only builds the engine, so that a query means the same on both.
SQLite: WAL, `synchronous=NORMAL`, `secure_delete` (a deleted row's bytes are overwritten), and every
transaction `BEGIN IMMEDIATE`, so that two writers queue for the lock instead of failing half way on an
upgrade from a read lock. PostgreSQL: psycopg 3, connections checked before use (a restarted server is
reconnected to, not reported as an error). A read-only SQLite engine (export, eval) opens the file with
`mode=ro` and deferred transactions, so a data dir on a read-only mount or owned by another user is read as it
is; it writes nothing (not even the WAL index when the folder cannot take one: then the file is immutable).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TypeGuard
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_TIMEOUT_S = 30  # how long a SQLite writer waits for another's lock before "database is locked"
# How long opening a PostgreSQL connection may take: an address that never answers (a dropped route, a server
# that accepts and says nothing) fails after this, instead of holding a start or a readiness check for minutes.
CONNECT_TIMEOUT_S = 10
# PostgreSQL's error codes of an outage: connection exceptions (08), the server shutting down, crashed or starting
# up (57P01-57P03), too many clients (53300), and a transaction rolled back by a conflict (40001, 40P01).
OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")


def database_url(configured: str, sqlite_file: Path) -> str:
    """The URL to open: `configured` (INFLUENCERS_DATABASE_URL) when set, else the SQLite file."""
    if not configured:
        return f"sqlite:///{Path(sqlite_file).resolve()}"
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured.removeprefix(prefix)
    return configured


def left_behind(configured: str, sqlite_file: Path, store: str) -> str:
    """The warning due when `configured` (INFLUENCERS_DATABASE_URL) is set while `sqlite_file`, the file `store`
    used without it, holds data; "" otherwise. Nothing copies such a file into the database: a data dir switched to
    PostgreSQL started empty in silence (docs/operations.md, "Moving to PostgreSQL")."""
    url = database_url(configured, sqlite_file)
    if not configured or not sqlite_file.is_file() or sqlite_file.stat().st_size == 0:
        return ""
    if url.startswith("sqlite") and Path(sa.engine.make_url(url).database or "").resolve() == sqlite_file.resolve():
        return ""
    return (f"INFLUENCERS_DATABASE_URL is set, so {store} is in {masked_database_url(url)}; {sqlite_file}, where it "
            "was kept without it, is not read and nothing of it was copied over (docs/operations.md, \"Moving to "
            "PostgreSQL\")")


def masked_database_url(url: str) -> str:
    """`url` as an error line may show it: the password replaced by ***."""
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return "(not a database URL)"
    # libpq takes a password as a query parameter too (`?password=`), which SQLAlchemy passes to the driver.
    hidden = {key: "***" if key.lower() in _SECRET_QUERY_KEYS else value for key, value in parsed.query.items()}
    return parsed.set(query=hidden).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


_SECRET_QUERY_KEYS = frozenset({"password", "sslpassword"})


def database_unreachable(exc: BaseException) -> TypeGuard[sa.exc.DBAPIError]:
    """PostgreSQL gone (refused, closed, shut down) under a call: an outage to wait out, no fault of the work.
    SQLite's OperationalErrors (a locked or unreadable file) are not, nor are PostgreSQL's OperationalErrors
    about the statement itself (a value too large for an index, a statement timeout): every try would meet
    them again, and a row given back for them would run for ever."""
    if not isinstance(exc, sa.exc.DBAPIError) or isinstance(exc.orig, sqlite3.Error):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    state = getattr(exc.orig, "sqlstate", None)  # None: the client's own (refused, closed, timed out)
    return state is None or state.startswith(OUTAGE_SQLSTATES)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def open_engine(url: str, pool_size: int = 5, read_only: bool = False) -> Engine:
    """An engine for `url` (see database_url). A SQLite file's folder is created, unless `read_only`: then the
    file must exist, and nothing is written (PostgreSQL engines are the same either way).

    Its errors never show a statement's parameters (`hide_parameters`): SQLAlchemy puts them in the error's text,
    which is logged (a worker step's traceback, `... failed: TEXT`) and kept as a job's error, and they hold what
    must stay out of both: a queued row's URL as given (its signature or token), a name (the log says how long).
    """
    if url.startswith("sqlite") and read_only:
        return _read_only_sqlite(sa.engine.make_url(url).database or "")
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_TIMEOUT_S, "check_same_thread": False,
                                                     "isolation_level": None}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size,
                            connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, hide_parameters=True)


def _read_only_sqlite(path: str) -> Engine:
    """SQLite `path` opened read-only. In WAL mode a reader needs the -shm index: when the folder cannot take
    one and none is there, the file is opened immutable (nobody can be writing to a folder nobody may write)."""
    file = Path(path)
    if not file.is_file():
        raise sqlite3.OperationalError(f"unable to open database file (no file {path})")
    uri = f"file:{quote(str(file.resolve()))}?mode=ro"
    shm = file.with_name(file.name + "-shm")
    if not os.access(file.parent, os.W_OK) and not shm.exists():
        uri += "&immutable=1"

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S, check_same_thread=False,
                                     isolation_level=None)
        connection.execute("PRAGMA query_only=ON")
        return connection

    engine = sa.create_engine("sqlite://", creator=connect, hide_parameters=True)
    # Deferred: a read transaction takes no write lock (BEGIN IMMEDIATE would need a writable file).
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "secure_delete=ON", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
