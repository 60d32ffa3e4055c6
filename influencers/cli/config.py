"""The CLI's settings, built from the command's flags and the environment, and what follows from them: the
metrics endpoint and the process's logging."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Iterator

from services.common.logs import configure_logging, current_setup
from services.common.metrics import MetricsServer, start_metrics_server
from services.common.resource_tracker import start_resource_tracker
from services.common.settings import (
    DEFAULT_METRICS_PORT,
    ENV_PREFIX,
    Settings,
    SettingsError,
    env_name,
    host_problem,
    host_shown,
    unknown_variables,
)

QUIET_COMMANDS = ("run", "ingest")  # a person watches their progress bar: a line per video is noise there
SERVING_COMMANDS = ("run", "serve", "service")  # they start worker processes, and so multiprocessing's tracker
ROW_FAILURES = "services.ingest.pipeline"  # the logger of ingest's one `video failed` line a failed row
ROW_NOTED = "video read where players differ"  # its line of a done row's note (services/ingest/pipeline.py ROW_NOTED)


class _FailedRowOnTheBar(logging.Filter):
    """Leaves out ingest's `video failed` warning unless it carries a traceback (a failure no one expected: the
    traceback is said nowhere else), and its `video read where players differ` (the bar's `WARNING  URL: note`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in ("video failed", ROW_NOTED) or bool(record.exc_info)


FAILED_ROW_ON_THE_BAR = _FailedRowOnTheBar()


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings of this command: its flags, else the INFLUENCERS_* variables, else the defaults."""
    for flag in ("data_dir", "host"):
        given = getattr(args, flag, None)
        if given is not None and not given.strip():  # `--data-dir ""` was the working directory
            raise SettingsError(f"--{flag.replace('_', '-')} is empty: give a value, or leave the flag out for "
                                f"{env_name(flag)} or the default")
    if (host := getattr(args, "host", None)) and (problem := host_problem(host)):  # named as the flag given
        raise SettingsError(f"--host {host_shown(host)!r} {problem}")
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None), web_port=getattr(args, "web_port", None),
        ingest_port=getattr(args, "ingest_port", None), identity_port=getattr(args, "identity_port", None),
        analytics_port=getattr(args, "analytics_port", None), host=getattr(args, "host", None),
        workers=getattr(args, "workers", None), metrics_port=_metrics_port(args))


def _metrics_port(args: argparse.Namespace) -> int | None:
    """--metrics-port, else INFLUENCERS_METRICS_PORT (None: read by Settings), else the command's default:
    DEFAULT_METRICS_PORT for `run` and `serve` (one process on a machine: one well-known port), none for
    `service` (replicas on one machine would fight over one port; containers set the variable, each in a
    network namespace of its own, and a scraper finds each replica at the port it was given)."""
    flag = getattr(args, "metrics_port", None)
    if flag is not None or os.environ.get(env_name("metrics_port"), "").strip():
        return flag
    return DEFAULT_METRICS_PORT if getattr(args, "command", "") in ("run", "serve") else None


@contextlib.contextmanager
def served_metrics(settings: Settings) -> Iterator[MetricsServer | None]:
    """Serves the process's metrics at settings.host:settings.metrics_port while the block runs (0: none)."""
    server = start_metrics_server(settings.host, settings.metrics_port) if settings.metrics_port else None
    try:
        yield server
    finally:
        if server is not None:
            server.stop()


def uses_json_logs(settings: Settings) -> bool:
    return settings.log_format.lower() == "json"


def configure_cli_logging(command: str = "", service: str = "") -> None:
    """The one logging set-up of the process (INFLUENCERS_LOG_FORMAT, INFLUENCERS_LOG_LEVEL). A bad setting
    logs as text at INFO meanwhile: check_inputs then refuses it in one line naming the variable. Under a
    progress bar (QUIET_COMMANDS) text logs start at WARNING unless INFLUENCERS_LOG_LEVEL says otherwise;
    services and JSON logs keep INFO. `service`: the one service this process runs (a field of every line).
    A command that runs services with JSON logs starts multiprocessing's resource tracker logging JSON."""
    try:
        settings = Settings.from_env()
    except SettingsError:
        settings = Settings()
    level = settings.log_level
    if command in QUIET_COMMANDS and quiet_under_a_bar(settings):
        level = "WARNING"
    configure_logging(settings.log_format, level, service=service)
    setup = current_setup()
    if command in SERVING_COMMANDS and setup is not None and setup.fmt == "json":
        start_resource_tracker(setup)  # its warning after a SIGKILL (leaked semaphores) a JSON line too


def quiet_under_a_bar(settings: Settings) -> bool:
    """Whether a command showing a progress bar keeps its log to warnings and its bar's own words: text logs
    with no INFLUENCERS_LOG_LEVEL asked for."""
    return settings.log_format.lower() == "text" and f"{ENV_PREFIX}LOG_LEVEL" not in os.environ


@contextlib.contextmanager
def failed_rows_said_by_the_bar(settings: Settings) -> Iterator[None]:
    """While `run` follows its own services' job: its bar says `FAILED  reason` for each failed row and its
    summary lists them again, so the services' `video failed` warning was the third copy of each. Under a quiet
    bar (quiet_under_a_bar) that warning is left out meanwhile, unless it carries a traceback."""
    if not quiet_under_a_bar(settings):
        yield
        return
    failures = logging.getLogger(ROW_FAILURES)
    failures.addFilter(FAILED_ROW_ON_THE_BAR)
    try:
        yield
    finally:
        failures.removeFilter(FAILED_ROW_ON_THE_BAR)


def warn_unknown_variables() -> None:
    """One warning line for each INFLUENCERS_* variable that is no setting (a misspelt one was ignored without a
    word), naming the nearest setting: not an error, the command goes on."""
    for name, nearest in unknown_variables():
        hint = f"did you mean {nearest}?" if nearest else "no setting has a name near it"
        logging.getLogger("influencers.cli").warning("%s is not a setting and is ignored: %s (docs/configuration.md)",
                                                     name, hint)
