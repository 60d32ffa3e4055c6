"""One parsed command run to its end: every failure mapped to its one line and exit code. Imported by main() once
the arguments parse, with every module a command needs (grpc, SQLAlchemy, the services): `--version`, `--help` and
a usage error import none of them."""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
import threading

import grpc
from sqlalchemy import exc as sa_exc

from influencers.cli.checks import check_inputs, check_ports, owning_data_dir
from influencers.cli.closed_stdout import WRITE_ERROR, StdoutUnwritable, guarded_stdout, silence_stdout
from influencers.cli.config import configure_cli_logging, settings_from_args, warn_unknown_variables
from influencers.cli.connect import reach_flags
from influencers.cli.output import (
    LOGGER,
    SERVICE_ERROR,
    ServiceUnavailable,
    cut,
    db_error,
    json_logs_configured,
    os_error,
    pasteable,
    say_error,
    service_error,
    tell,
    usage_error,
)
from influencers.cli.stopping import Terminated, exit_code, raise_terminated, signal_name
from services.common import tracing
from services.common.boundary import brief, escaped
from services.common.damage import DiskFull, StoreDamaged
from services.common.database import masked_database_url
from services.common.datadir import DataDirBusy, DataDirUnusable
from services.common.metrics import MetricsPortInUse
from services.common.names import NameLookupError
from services.common.rpc import PortInUse
from services.common.settings import Settings, SettingsError, env_name
from services.ingest.manifest import ManifestError


def run_command(args: argparse.Namespace) -> int:
    """Runs the command `args` parsed to (influencers.cli.main says its exit codes). Every error is one line on
    stderr, `influencers: error: ...`, never a traceback."""
    configure_cli_logging(args.command, args.service if args.command == "service" else "")
    warn_unknown_variables()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_terminated)
    try:
        settings = check_inputs(args)
        tracing.setup_tracing(_traced_services(args))
        with owning_data_dir(args, settings), guarded_stdout():
            check_ports(args, settings)
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # here, not at exit: a reader that left (`| head`), a full disk meet the handlers below
            return code
    except StdoutUnwritable as exc:  # `influencers jobs > /dev/full`: what the command did stands; its words are lost
        silence_stdout()
        say_error(f"{args.command}: {exc}")
        return WRITE_ERROR
    except (SettingsError, ManifestError, DataDirBusy, DataDirUnusable, PortInUse, MetricsPortInUse, StoreDamaged,
            DiskFull) as exc:
        return usage_error(str(exc))
    except NameLookupError as exc:
        return usage_error(f"{args.command}: {brief(escaped(pasteable(str(exc), _reach(args))), 2000)}")
    except grpc.RpcError as exc:
        return service_error(args.command, exc, _targets(args), _reach(args))
    except (ServiceUnavailable, TimeoutError) as exc:  # TimeoutError: a job's progress lost, a deadline
        say_error(f"{args.command}: {cut(escaped(str(exc)))}")
        return SERVICE_ERROR
    except BrokenPipeError:  # the reader of our output left (`influencers review --all | head`): nothing to say
        silence_stdout()
        return 0
    except OSError as exc:  # a folder or file given (data dir, --out, --report) that cannot be used
        return os_error(args.command, exc)
    except (sqlite3.DatabaseError, sa_exc.DBAPIError) as exc:  # a store: not a database, a folder, unreachable
        logging.getLogger(LOGGER).debug("store error", exc_info=True)
        return usage_error(f"{args.command}: {_store_named(settings_from_args(args), exc)} cannot be used "
                           f"({cut(escaped(db_error(exc)))})")
    except (KeyboardInterrupt, Terminated) as exc:
        return _stopped(args, exc)
    finally:
        tracing.shutdown_tracing()  # the spans still queued are sent before the process ends


def _stopped(args: argparse.Namespace, stop: BaseException) -> int:
    """Says how a command stopped before its end (`stop`: KeyboardInterrupt or Terminated), and its exit code.
    Services being started (`serve`, `service NAME`) stop with 0, as they do once serving: a supervisor's SIGTERM
    is their normal end, and there is nothing to resume (was: 130 and "run the same command again to resume").
    Any other command was stopped in its work (stopping.exit_code), and the same command resumes it."""
    if args.command in ("serve", "service"):
        who = f"{args.service} " if args.command == "service" else ""
        logging.getLogger(LOGGER).info("%sstopped by %s while starting", who, signal_name(stop))
        return 0
    said = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
    tell(f"{said}: what was recorded is kept; run the same command again to resume", json_logs_configured(),
         logging.WARNING)
    return exit_code(stop)


def _store_named(settings: Settings, exc: Exception) -> str:
    """The store an error came from, as the operator configured it: the PostgreSQL database of
    INFLUENCERS_DATABASE_URL (password hidden), or the SQLite files of the data dir."""
    from_sqlite = isinstance(exc, sqlite3.DatabaseError) or isinstance(getattr(exc, "orig", None),
                                                                       sqlite3.DatabaseError)
    if settings.database_url and not from_sqlite:
        return f"{env_name('database_url')} ({cut(escaped(masked_database_url(settings.database_url)))})"
    return f"the analytics store in data dir {cut(str(settings.data_dir))}"


def _targets(args: argparse.Namespace) -> dict[str, str]:
    """Where this command reaches each service ("identity": "127.0.0.1:50052"), for its errors to name; {} when
    its settings cannot be read (a failed call's line then names no address)."""
    try:
        s = settings_from_args(args)
    except SettingsError:
        return {}
    return {"ingest": s.ingest_target, "identity": s.identity_target, "analytics": s.analytics_target}


def _reach(args: argparse.Namespace) -> str:
    """The --host and port options this command reached its services with, where not the defaults, for the
    commands an error suggests ("" when its settings cannot be read)."""
    try:
        s = settings_from_args(args)
    except SettingsError:
        return ""
    return reach_flags(s, *(name for name in ("ingest", "identity", "analytics") if hasattr(args, f"{name}_port")))


def _traced_services(args: argparse.Namespace) -> list[str]:
    """The services this command runs in this process (each traced under its own name while tracing is on)."""
    if args.command in ("run", "serve"):
        return list(tracing.SERVICES)
    return [args.service] if args.command == "service" else []

