"""`influencers run` follows its own services' job: each failed row was said three times on the terminal (the
services' `video failed` warning, the bar's `FAILED  reason`, the summary). Under its progress bar (text logs, no
INFLUENCERS_LOG_LEVEL) the warning is left out unless it carries a traceback; anywhere else it stays."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from influencers.cli.config import ROW_FAILURES, configure_cli_logging

ENV = ("INFLUENCERS_LOG_FORMAT", "INFLUENCERS_LOG_LEVEL")


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
           ) -> Iterator[pytest.CaptureFixture[str]]:
    """stderr, where the CLI's logging writes, with no log setting in the environment; the root logger as it was
    afterwards."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield capsys
    root.handlers, root.level = handlers, level
    configure_cli_logging("serve")  # takes the filter off again
    root.handlers, root.level = handlers, level
    logging.captureWarnings(False)


def fail_a_row(out: pytest.CaptureFixture[str], command: str, unexpected: bool = False) -> str:
    """What stderr says once `command` has set logging up and ingest's pipeline logs a failed row, then
    another warning."""
    configure_cli_logging(command)
    out.readouterr()
    try:
        raise OSError("disk said no") if unexpected else ValueError("expected")
    except (OSError, ValueError):
        logging.getLogger(ROW_FAILURES).warning("video failed", extra={"reason": "a.mp4: file not found"},
                                                exc_info=unexpected)
    logging.getLogger(ROW_FAILURES).warning("the decoder pool is short of one")  # another warning of that logger
    return out.readouterr().err


def test_run_under_its_bar_does_not_repeat_a_failed_rows_reason_as_a_log_line(logged) -> None:
    said = fail_a_row(logged, "run")
    assert "video failed" not in said
    assert "the decoder pool is short of one" in said


def test_a_failed_row_with_a_traceback_is_still_logged_by_run(logged) -> None:
    said = fail_a_row(logged, "run", unexpected=True)
    assert "video failed" in said and "OSError: disk said no" in said


@pytest.mark.parametrize("command", ["serve", "service"])
def test_services_without_a_bar_still_log_each_failed_row(logged, command) -> None:
    assert "video failed" in fail_a_row(logged, command)


def test_run_with_a_log_level_asked_for_logs_each_failed_row(logged, monkeypatch) -> None:
    monkeypatch.setenv("INFLUENCERS_LOG_LEVEL", "INFO")
    assert "video failed" in fail_a_row(logged, "run")
