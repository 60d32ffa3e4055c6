"""`influencers run` follows its own services' job: each failed row was said three times on the terminal (the
services' `video failed` warning, the bar's `FAILED  reason`, the summary). While it follows the job under its
quiet bar (text logs, no INFLUENCERS_LOG_LEVEL) the warning is left out unless it carries a traceback; otherwise,
and once the job is followed, it stays."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from influencers.cli.config import ROW_FAILURES, failed_rows_said_by_the_bar
from services.common.settings import Settings


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the ingest pipeline's logger writes (to a handler of our own), with no log level asked for."""
    monkeypatch.delenv("INFLUENCERS_LOG_LEVEL", raising=False)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger(ROW_FAILURES)
    logger.addHandler(handler)
    yield out
    logger.removeHandler(handler)


def fail_a_row(unexpected: bool = False) -> None:
    try:
        raise OSError("disk said no") if unexpected else ValueError("expected")
    except (OSError, ValueError):
        logging.getLogger(ROW_FAILURES).warning("video failed", extra={"reason": "a.mp4: file not found"},
                                                exc_info=unexpected)
    logging.getLogger(ROW_FAILURES).warning("the decoder pool is short of one")  # another warning of that logger


def test_while_run_follows_its_job_a_failed_rows_reason_is_not_repeated_as_a_log_line(logged) -> None:
    with failed_rows_said_by_the_bar(Settings()):
        fail_a_row()
    said = logged.getvalue()
    assert "video failed" not in said
    assert "the decoder pool is short of one" in said


def test_a_failed_row_with_a_traceback_is_still_logged(logged) -> None:
    with failed_rows_said_by_the_bar(Settings()):
        fail_a_row(unexpected=True)
    assert "video failed" in logged.getvalue() and "OSError: disk said no" in logged.getvalue()


def test_once_the_job_is_followed_each_failed_row_is_logged_again(logged) -> None:
    with failed_rows_said_by_the_bar(Settings()):
        pass
    fail_a_row()
    assert "video failed" in logged.getvalue()


def test_with_a_log_level_asked_for_each_failed_row_is_logged(logged, monkeypatch) -> None:
    monkeypatch.setenv("INFLUENCERS_LOG_LEVEL", "INFO")
    with failed_rows_said_by_the_bar(Settings()):
        fail_a_row()
    assert "video failed" in logged.getvalue()


def test_with_json_logs_each_failed_row_is_logged(logged) -> None:
    with failed_rows_said_by_the_bar(Settings(log_format="json")):
        fail_a_row()
    assert "video failed" in logged.getvalue()


def test_while_run_follows_its_job_a_done_rows_note_is_said_by_the_bar_alone_and_logged_otherwise(logged) -> None:
    """The bar says `WARNING  URL: note` for a row read where players differ (an odd display matrix); the log line
    naming the file and the angle is for the services' logs, not a second copy on the terminal."""
    from services.ingest.pipeline import ROW_NOTED

    def note() -> None:
        logging.getLogger(ROW_FAILURES).warning(ROW_NOTED, extra={"url": "a.mp4", "reason": "turns 45 degrees"})

    with failed_rows_said_by_the_bar(Settings()):
        note()
    assert ROW_NOTED not in logged.getvalue()
    note()
    assert ROW_NOTED in logged.getvalue()
