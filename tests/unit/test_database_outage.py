"""database_unreachable (services/common/database.py): which database errors are an outage to wait out (the
call answers UNAVAILABLE, ingest gives its row back) and which are a fault of the work itself (INTERNAL, the row
fails): an error that every try of the row meets again must not send the row back to the queue for ever."""

from __future__ import annotations

import secrets

import psycopg
import pytest
import sqlalchemy as sa

from services.common.database import database_unreachable, open_engine


def operational(orig: Exception) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("INSERT INTO urls ...", {}, orig)


def test_a_value_too_large_for_an_index_on_postgresql_is_no_outage(postgres_url) -> None:
    # Before, every PostgreSQL OperationalError counted as the database gone: a 10,000-character URL (its index
    # entry over PostgreSQL's 2,704 bytes) answered UNAVAILABLE, ingest gave the row back, and the row ran again
    # for ever instead of failing.
    engine = open_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE urls (url TEXT)")
            conn.exec_driver_sql("CREATE INDEX urls_by_url ON urls (url)")
        with pytest.raises(sa.exc.DBAPIError) as refused, engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO urls VALUES (:u)"), {"u": secrets.token_hex(5000)})
        assert not database_unreachable(refused.value), str(refused.value.orig)
    finally:
        engine.dispose()


@pytest.mark.parametrize("orig", [psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
                                  psycopg.errors.StatementTooComplex("stack depth limit exceeded")])
def test_errors_of_the_statement_itself_are_no_outage(orig) -> None:
    assert not database_unreachable(operational(orig))


@pytest.mark.parametrize("orig", [psycopg.OperationalError("connection refused"),
                                  psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
                                  psycopg.errors.CannotConnectNow("the database system is starting up"),
                                  psycopg.errors.ConnectionFailure("server closed the connection unexpectedly"),
                                  psycopg.errors.TooManyConnections("sorry, too many clients already")])
def test_postgresql_gone_restarting_or_full_of_clients_is_an_outage(orig) -> None:
    assert database_unreachable(operational(orig))


def test_a_sqlite_error_is_no_outage(tmp_path) -> None:
    import sqlite3

    assert not database_unreachable(operational(sqlite3.OperationalError("database is locked")))


def test_a_database_url_shown_in_an_error_hides_a_password_given_as_a_query_parameter() -> None:
    # Before, only the password before the host was hidden: `?password=` (which the driver accepts as well)
    # was printed as written in the one-line start error, and so reached the logs.
    from services.common.database import masked_database_url

    assert masked_database_url("postgresql://app@db:5432/x?password=s3cret&sslmode=require") == \
        "postgresql://app@db:5432/x?password=***&sslmode=require"
    assert masked_database_url("postgresql://app:pw@db/x?sslpassword=k3y") == "postgresql://app:***@db/x?sslpassword=***"
