"""A failed statement's error names the statement, never its parameters: its text is logged and kept as a job's
error, and the parameters hold a queued row's URL as given (with its token) or a person's name."""

import pytest
import sqlalchemy as sa

from services.common.database import database_url, open_engine

SECRET_URL = "https://cdn.example.com/v.mp4?X-Amz-Signature=SIGSECRET&token=TOKSECRET"


def test_a_failed_insert_names_its_statement_and_not_the_url_it_carried(tmp_path):
    engine = open_engine(database_url("", tmp_path / "q.sqlite3"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE rows (idx INTEGER PRIMARY KEY, url TEXT)")
    insert = sa.text("INSERT INTO rows VALUES (1, :url)")
    with pytest.raises(sa.exc.IntegrityError) as failed, engine.begin() as conn:
        conn.execute(insert, {"url": SECRET_URL})
        conn.execute(insert, {"url": SECRET_URL})
    engine.dispose()
    text = str(failed.value)
    assert "UNIQUE constraint failed" in text and "INSERT INTO rows" in text
    assert "SECRET" not in text and "cdn.example.com" not in text, text


def test_read_only_and_postgresql_engines_hide_parameters_too(tmp_path):
    path = tmp_path / "q.sqlite3"
    written = open_engine(database_url("", path))
    written.connect().close()  # the file exists: a read-only engine needs it
    written.dispose()
    for engine in (open_engine(database_url("", path), read_only=True),
                   open_engine("postgresql+psycopg://user@127.0.0.1:1/none")):
        assert engine.hide_parameters, engine.url
        engine.dispose()
