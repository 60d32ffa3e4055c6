"""Logging of every process: one event per line, as text or JSON (INFLUENCERS_LOG_FORMAT), with the context of
the work it belongs to.

structlog formats the records of the standard `logging` module (ours and every library's), so code keeps
`logging.getLogger(__name__)`; fields go in `extra={...}`. Fields bound with `row_context`/`bind` (job_id,
row, video_id) are added to every line their thread logs meanwhile, and trace_id and span_id come from the current span
while tracing is on (services/common/tracing.py), so a video's lines in ingest and identity share it.

Text: `2026-12-04T21:00:00.123Z WARNING services.ingest.pipeline: video failed job_id=... reason='...'`.
JSON: `{"timestamp": ..., "level": "warning", "logger": ..., "event": "video failed", "job_id": ..., ...}`.
A traceback is a field of the JSON line (frames without their local variables, which may hold a password); in
text it follows its line, as Python prints it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from services.common import tracing
from services.common.boundary import SHOWN_CHARS, escaped

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Libraries that say too much at INFO (alembic: a line per plugin at every store open).
QUIET = ("httpx", "werkzeug", "alembic")
ROW_FIELDS = ("job_id", "row", "video_id")
# Where a process started with no arguments of ours (multiprocessing's fork server) finds its parent's set-up. Not
# INFLUENCERS_*: it is no setting, and the CLI warns about an INFLUENCERS_* variable that is none.
SETUP_VARIABLE = "_INFLUENCERS_LOG_SETUP"
# A JSON traceback without each frame's local variables (structlog's default shows them): a frame of the database
# driver holds the connection string with its password, a settings object the token.
_JSON_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))


@dataclasses.dataclass(frozen=True)
class LogSetup:
    """A process's logging set-up, as configure_logging was given it: what a worker process (a decoder, a face
    worker, the resource tracker) needs to write its lines in the same format."""

    fmt: str = "text"
    level: str = "INFO"
    service: str = ""


_setup: LogSetup | None = None  # the process's, as logging's own handlers are: set by configure_logging


def current_setup() -> LogSetup | None:
    """This process's logging set-up (None: configure_logging never ran, Python's defaults apply)."""
    return _setup


def adopt_setup(setup: LogSetup | None) -> None:
    """In a worker process: logs (and turns Python warnings into log lines) as its parent does, so that with
    JSON logs every line it writes to the shared stderr is JSON. None: Python's defaults are kept."""
    if setup is not None:
        configure_logging(setup.fmt, setup.level, service=setup.service)


def export_setup(setup: LogSetup | None) -> None:
    """Puts `setup` in this process's environment, which the processes it starts inherit: one whose command line
    is not ours (multiprocessing's fork server) reads it with exported_setup. None: removed."""
    if setup is None:
        os.environ.pop(SETUP_VARIABLE, None)
    else:
        os.environ[SETUP_VARIABLE] = json.dumps(dataclasses.asdict(setup))


def exported_setup() -> LogSetup | None:
    """The set-up a parent exported (export_setup); None when none was, or it does not read as one."""
    try:
        return LogSetup(**json.loads(os.environ[SETUP_VARIABLE]))
    except (KeyError, ValueError, TypeError):
        return None


def _uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    """sys.excepthook with JSON logs: the exception that ends a process (or that the fork server reports for a
    child it could not start) as one record with its traceback, not Python's raw lines."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("uncaught").critical("uncaught %s: %s", exc_type.__name__, " ".join(str(exc).split()),
                                           exc_info=(exc_type, exc, tb))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """threading.excepthook with JSON logs: a thread's uncaught exception as one record naming the thread."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("uncaught").error("uncaught %s in thread %s: %s", args.exc_type.__name__, name,
                                        " ".join(str(args.exc_value).split()),
                                        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _unraisable(unraisable: Any) -> None:
    """sys.unraisablehook with JSON logs: "Exception ignored in ..." (a finaliser's error) as one record."""
    said = unraisable.err_msg or "Exception ignored in"
    logging.getLogger("uncaught").warning("%s: %r", said, unraisable.object, exc_info=(
        unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback) if unraisable.exc_value else None)


def _warning_record(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: TextIO | None = None, line: str | None = None) -> None:
    """warnings.showwarning while logs are set up: a Python warning as one record of logger `py.warnings`, its
    event `Category: message` on one line and `source` (`file.py:line`) a field. logging's own made the event
    Python's two-line text (path, category, message, then the source line)."""
    if file is not None:  # a warning written to a file of the caller's choosing: as Python writes it
        file.write(warnings.formatwarning(message, category, filename, lineno, line))
        return
    logging.getLogger("py.warnings").warning("%s: %s", category.__name__, " ".join(str(message).split()),
                                             extra={"source": f"{filename}:{lineno}"})


_HOOKS = ((sys, "excepthook", _uncaught), (threading, "excepthook", _uncaught_in_thread),
          (sys, "unraisablehook", _unraisable))
_replaced: dict[str, Any] = {}  # the hooks ours replaced, by name: put back when logs turn to text


def _route_uncaught(json_logs: bool) -> None:
    """With JSON logs, what Python itself would print raw (an uncaught exception, a thread's, an exception
    ignored in a finaliser) is a log record; with text, Python's own hooks again."""
    for module, name, ours in _HOOKS:
        key = f"{module.__name__}.{name}"
        current = getattr(module, name)
        if json_logs and current is not ours:
            _replaced[key] = current
            setattr(module, name, ours)
        elif not json_logs and current is ours:
            setattr(module, name, _replaced.pop(key))


def _trace_id(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    """Adds the current trace's and span's ids (tracing on and a span current), and the job and row a caller sent
    along with it (identity's and analytics' lines of a row's calls). The span id says which step of the trace
    logged the line (a trace of one video has a dozen spans)."""
    if tracing.enabled():
        trace_id = tracing.current_trace_id()
        if trace_id:
            event.setdefault("trace_id", trace_id)
            event.setdefault("span_id", tracing.current_span_id())
            for field, value in tracing.baggage_fields().items():
                event.setdefault(field, _sent_along(field, value))
    return event


def _sent_along(field: str, value: str) -> int | str:
    """A baggage value as a field of the line: any caller may send one, so a row that is no whole number stays
    text, and either is cut to SHOWN_CHARS (a line never fails on it, nor grows by kilobytes)."""
    if field == "row" and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return value[:SHOWN_CHARS]


def _service_field(service: str) -> Any:
    def add(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add


SERVICE_NAMES = ("ingest", "identity", "analytics")


def _service_of_module(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    """In a process of all three services (`run`, `serve`), a line of a service's own modules (logger
    `services.NAME....`) names that service, as a fleet's lines do: a log pipeline filters on one field either
    way. Shared code's and the CLI's lines have no service to name. JSON only: a text line's logger says it."""
    parts = str(event.get("logger", "")).split(".", 2)
    if len(parts) > 2 and parts[0] == "services" and parts[1] in SERVICE_NAMES:
        event.setdefault("service", parts[1])
    return event


def _text(logger: WrappedLogger, name: str, event: EventDict) -> str:
    """`TIME LEVEL LOGGER: EVENT key=value ...` on one line (a traceback on the lines after it)."""
    stamp = event.pop("timestamp", "")
    level = str(event.pop("level", "")).upper()
    source = event.pop("logger", "")
    message = escaped(str(event.pop("event", "")))  # an RpcError's text has several lines
    trace = event.pop("exception", "")
    fields = " ".join(f"{k}={v!r}" if isinstance(v, str) and (not v or not v.isprintable() or " " in v)
                      else f"{k}={escaped(str(v))}" for k, v in event.items())
    line = f"{stamp} {level} {source}: {message}" + (f" {fields}" if fields else "")
    return f"{line}\n{trace}" if trace else line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at each record (a test harness or tqdm may swap it), never to a
    stream closed since the handler was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(fmt: str = "text", level: str = "INFO", stream: TextIO | None = None,
                      service: str = "") -> None:
    """Sets up the root logger once for the process: one handler on `stream` (stderr), `fmt` text or json,
    at `level`; `service` (a process running one service: `influencers service NAME`) is a field of every
    line. Call from the entry point (the CLI); later calls replace the handler."""
    global _setup
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(FORMATS)}")
    _setup = LogSetup(fmt, level.upper(), service) if stream is None else None  # a stream of its own: not stderr
    # Exported here, at the entry point, before the process starts threads (setting the environment while
    # other threads read it is not safe in C): the fork server of the decoders reads it (forkserver_logs).
    export_setup(_setup)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_id,
        *([_service_field(service)] if service else [_service_of_module] if fmt == "json" else []),
    ]
    render: list[Any] = ([_JSON_TRACEBACKS, structlog.processors.JSONRenderer()]
                         if fmt == "json" else [structlog.processors.format_exc_info, _text])
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render])
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warnings.warn: a line of the log, not two raw lines on stderr
    warnings.showwarning = _warning_record  # put back by captureWarnings(False), as logging's own is
    _route_uncaught(fmt == "json" and stream is None)  # the process's own stderr: its hooks too
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@contextlib.contextmanager
def row_context(job_id: str, row: int) -> Iterator[None]:
    """Every line this thread logs inside carries `job_id` and `row` (1-based), and `video_id` once `bind`
    gives it; all three are gone afterwards (the thread takes another job's row next)."""
    previous = structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, row=row)
    try:
        yield
    finally:
        structlog.contextvars.unbind_contextvars(*ROW_FIELDS)
        structlog.contextvars.bind_contextvars(**{k: previous[k] for k in ROW_FIELDS if k in previous})


def bind(**fields: object) -> None:
    """Adds `fields` to the lines this thread (or this gRPC call) logs from now on."""
    structlog.contextvars.bind_contextvars(**fields)


def row_fields() -> dict[str, object]:
    """The ROW_FIELDS bound in this thread now: what another process's lines about the same row carry (a decoder's,
    given them with each video)."""
    bound_now = structlog.contextvars.get_contextvars()
    return {k: bound_now[k] for k in ROW_FIELDS if k in bound_now}


@contextlib.contextmanager
def bound(**fields: object) -> Iterator[None]:
    """`fields` on the lines logged inside (a gRPC call's video_id, say), then as before."""
    with structlog.contextvars.bound_contextvars(**fields):
        yield
