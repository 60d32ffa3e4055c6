"""A library logger that repeats itself while something stays down (OpenTelemetry's exporter with its collector
unreachable) logs its first line, then at most one a minute saying how many it held back."""

import logging

import pytest

from services.common import tracing
from services.common.endpoint_secrets import EndpointSecretsHidden
from services.common.log_throttle import RepeatedLines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(level: int, message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("opentelemetry.exporter.x", level, __file__, 1, message, args, None)


def test_the_first_warning_passes_the_next_ones_wait_a_minute_and_the_one_after_counts_them():
    clock = Clock()
    lines = RepeatedLines(every_s=60, clock=clock)
    first = record(logging.WARNING, "Transient error %s, retrying", "refused")
    assert lines.filter(first) and first.getMessage() == "Transient error refused, retrying"
    clock.now = 30
    assert not lines.filter(record(logging.WARNING, "Transient error"))
    assert not lines.filter(record(logging.ERROR, "Failed to export spans batch"))
    assert lines.filter(record(logging.INFO, "an info line always passes"))
    clock.now = 61
    later = record(logging.ERROR, "Failed to export spans batch")
    assert lines.filter(later)
    assert later.getMessage() == ("Failed to export spans batch (2 more lines of opentelemetry.exporter.x held back "
                                  "in the last 60 s)")
    clock.now = 200
    quiet = record(logging.WARNING, "Transient error")
    assert lines.filter(quiet) and quiet.getMessage() == "Transient error", "nothing held back: nothing to count"


def _unthrottled() -> None:
    for name in tracing.EXPORT_LOGGERS:
        logger = logging.getLogger(name)
        logger.filters = [f for f in logger.filters if not isinstance(f, RepeatedLines | EndpointSecretsHidden)]


@pytest.fixture
def exporter_loggers():
    _unthrottled()  # an earlier setup_tracing's filter (process state) may be holding lines back already
    yield
    tracing.shutdown_tracing()
    _unthrottled()


def test_an_unreachable_collector_costs_one_log_line_not_one_per_retry(exporter_loggers, monkeypatch, caplog):
    # Read by the exporter itself: each batch is tried for 2 s (retries after about 1 s, then 2 s) and given up.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    assert tracing.setup_tracing(["ingest"])
    with tracing.tracer("ingest").start_as_current_span("video"):
        pass
    tracing.shutdown_tracing()  # exports what is queued: every try is refused
    lines = [r for r in caplog.records if r.name.startswith("opentelemetry.")]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "127.0.0.1" in lines[0].getMessage() and "port=1" in lines[0].getMessage()


def test_a_line_of_what_a_caller_sent_is_cut_short_saying_how_long_it_was():
    lines = RepeatedLines(every_s=60, clock=Clock(), max_chars=20)
    long = record(logging.WARNING, "Baggage header `%s` exceeded the maximum", "k=v," * 3000)
    assert lines.filter(long) and long.getMessage() == "Baggage header `k=v,… (12038 chars)"
    short = RepeatedLines(every_s=60, clock=Clock(), max_chars=20)
    kept = record(logging.WARNING, "Invalid entry: %s", "x")
    assert short.filter(kept) and kept.getMessage() == "Invalid entry: x"


def test_the_exporters_lines_about_an_unreachable_collector_hide_the_endpoints_password_and_token(
        exporter_loggers, monkeypatch, caplog):
    # urllib3 names the request by its path and query: `Max retries exceeded with url: /v1/traces?api_key=KEY`.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                       "http://user:PWSECRET@127.0.0.1:1/v1/traces?api_key=KEYSECRET&region=eu")
    caplog.set_level(logging.INFO)
    assert tracing.setup_tracing(["ingest"])
    with tracing.tracer("ingest").start_as_current_span("video"):
        pass
    tracing.shutdown_tracing()
    said = [r.getMessage() for r in caplog.records if r.name.startswith(("opentelemetry.", "services.", "urllib3"))]
    assert any("/v1/traces?api_key=***&region=eu" in line for line in said), said
    assert not any("SECRET" in line for line in said), said
