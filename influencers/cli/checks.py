"""Checks before a command starts anything (settings, manifest, data dir, TLS files, ports), and the data
dir's lock for the commands that open its stores."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from influencers.cli.config import settings_from_args
from influencers.client import ingest_request
from services.common.damage import check_room
from services.common.datadir import broken_link, data_dir_lock, prepare_data_dir
from services.common.rpc import PortInUse, is_loopback
from services.common.settings import ENV_PREFIX, Settings, SettingsError, check_face_locator
from services.common.tls import channel_credentials, server_credentials
from services.common.url_scheme import has_scheme
from services.common.url_secrets import secrets_hidden
from services.ingest.manifest import MAX_ROWS, ManifestError, manifest_rows

# Commands that open the stores of the data dir in this process: one such process per data dir.
_OWNS_DATA_DIR = {"run", "serve"}
_OWNS_DATA_DIR_SERVICES = {"identity", "analytics"}
# Commands that write in the data dir (stores, downloads): it must be a folder they can write, checked first.
_WRITES_DATA_DIR = {"run", "serve", "service"}
STDIN = "/dev/stdin"  # a MANIFEST of `-`


def check_inputs(args: argparse.Namespace) -> Settings:
    """Fails fast, before anything starts, on what would otherwise fail minutes later: the settings (every
    variable and flag, typed and range-checked), the manifest (readable, with its two columns), the data
    dir (a folder this process can write) and the TLS files. The ports come after the data dir's lock
    (check_ports): a second run on one data dir is told the dir is in use, not that its ports are. The manifest
    is read here once, its request kept as `args.manifest_request` for the command to send (a FIFO or a pipe
    can be read only once)."""
    settings = settings_from_args(args)
    server_credentials(settings)  # unreadable certificate or key files: one line naming the variable
    channel_credentials(settings)
    manifest = getattr(args, "manifest", None)
    if manifest == "-":  # stdin, as a pipe: `export-command | influencers ingest -`
        if sys.stdin is not None and sys.stdin.isatty():
            raise ManifestError("manifest - reads stdin, a terminal here: pipe the CSV in (`export-command | "
                                "influencers ingest -`) or give its path")
        manifest = args.manifest = STDIN
    if manifest is not None:
        if not Path(manifest).exists():
            raise ManifestError(_not_found(manifest))
        if args.command == "run" and settings.max_job_rows < MAX_ROWS:
            # This process's ingest takes at most max_job_rows rows a job: a larger manifest is refused here,
            # at its first row over it, not read whole twice and then refused by the service (a million rows:
            # minutes). `ingest` leaves the limit to the service it talks to, whose own it is.
            rows = manifest_rows(Path(manifest), settings.max_manifest_bytes, settings.max_job_rows,
                                 rows_setting="INFLUENCERS_MAX_JOB_ROWS")
        else:
            rows = manifest_rows(Path(manifest), settings.max_manifest_bytes)
        # Row by row into the request: one that grows past what a call carries is refused at that row.
        args.manifest_request = ingest_request(Path(manifest), rows, resume_unfinished=True)
    report = getattr(args, "report", None)  # `run --report`: written at the job's end, minutes from now
    if report is not None:
        _check_report_folder(Path(report))
    if args.command in _WRITES_DATA_DIR:
        prepare_data_dir(settings.data_dir)
    if _ports_to_bind(args) and not settings.token and not is_loopback(settings.host):
        raise SettingsError(f"INFLUENCERS_HOST={settings.host} is beyond loopback: set INFLUENCERS_TOKEN too")
    if _ports_to_bind(args):
        _check_host(settings.host)
        _check_ports_apart(args, settings)
    _check_ports_reached(args, settings)
    if _runs(args, "ingest", "analytics"):
        _check_allowed_root(settings.allowed_root)
    if _runs(args, "identity"):
        check_face_locator(settings)
    return settings


def _check_report_folder(report: Path) -> None:
    """SettingsError naming --report when the report cannot be written there: a file, or a folder that cannot be
    made or written (`/proc/x`, under a file, a read-only disk). Made here, as the run's end would make it: a look
    at its permissions alone passes for root where the kernel refuses. Was: found at the job's end, after every
    video had been analysed (`influencers: error: run: cannot use /proc/x (No such file or directory)`)."""
    if (link := broken_link(report)) or (report.exists() and not report.is_dir()):
        raise SettingsError(f"--report {report} is {link or 'a file, not a folder'}: give a folder for the report's "
                            "files")
    try:
        report.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "a parent is a file, not a folder" if exc.errno in (errno.ENOTDIR, errno.EEXIST) else exc.strerror
        raise SettingsError(f"--report {report} cannot be made ({reason}): give a folder this user can write "
                            "for the report's files") from None
    if not os.access(report, os.W_OK | os.X_OK):
        raise SettingsError(f"--report {report} is not writable: give a folder this user can write for the "
                            "report's files")


def _not_found(manifest: str) -> str:
    """Why a MANIFEST that does not exist cannot be read. A link given for it (`https://user:password@host/m.csv`:
    a manifest is a local file) is named with its password and tokens hidden (url_secrets.secrets_hidden): it was
    echoed whole, to the terminal and, with JSON logs, to the log shipper."""
    if has_scheme(manifest) is not None:
        return (f"manifest {secrets_hidden(manifest)} not found: a manifest is a local CSV file (or - for stdin), "
                "not a link; save the file first")
    return f"manifest {manifest} {_link_problem(Path(manifest)) or 'not found'}"


def _link_problem(path: Path) -> str:
    """What `path` is, when exists() denies it and it is a symbolic link: one in a loop (exists() reads ELOOP as
    absent) or one to nothing; "" otherwise. Was `not found`, for a name `ls` lists."""
    if not path.is_symlink():
        return ""
    try:
        path.resolve(strict=True)
    except RuntimeError:
        return "is a symbolic link in a loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link in a loop"
    return f"is a symbolic link to {os.readlink(path)}, which does not exist"


def _runs(args: argparse.Namespace, *services: str) -> bool:
    """Whether `args.command` runs one of `services` in this process (run and serve run all three)."""
    return args.command in ("run", "serve") or (args.command == "service" and args.service in services)


def _check_ports_apart(args: argparse.Namespace, settings: Settings) -> None:
    """SettingsError naming both settings when two ports this command binds are one (0, any free port, aside):
    each is free before the start, and the second server would fail at its bind, midway through the start."""
    taken: dict[int, str] = {}
    for name in _ports_to_bind(args):
        port = getattr(settings, name)
        if port and port in taken:
            raise SettingsError(f"{ENV_PREFIX}{taken[port].upper()} and {ENV_PREFIX}{name.upper()} are both {port}: "
                                "give each its own port")
        taken[port] = name


def _check_ports_reached(args: argparse.Namespace, settings: Settings) -> None:
    """SettingsError naming the flag and the variable when a client command (one that starts no server) is given
    port 0 for a service it calls: any free port to a server, nothing a client can reach. Was: the call waited its
    3 s and said "the ingest service at 127.0.0.1:0 is not answering". `service ingest` with identity's port 0 is
    left as it was: it starts, and its rows wait for identity (test set-ups start services with every port 0)."""
    if _ports_to_bind(args):
        return
    for service in ("ingest", "identity", "analytics"):
        name = f"{service}_port"
        if (hasattr(args, name) and getattr(settings, name) == 0
                and not getattr(settings, f"{service}_addr", "")):
            raise SettingsError(f"--{service}-port ({ENV_PREFIX}{name.upper()}) is 0, which a server reads as any "
                                f"free port: give the port the {service} service listens on (default "
                                f"{getattr(Settings(), name)})")


def _check_host(host: str) -> None:
    """SettingsError naming INFLUENCERS_HOST when it names no address of this machine's resolver: the servers
    would fail at their bind, as "cannot bind HOST:0 (in use? choose another port)"."""
    try:
        socket.getaddrinfo(host.strip("[]"), None)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a host name"
        raise SettingsError(f"{ENV_PREFIX}HOST={host!r} (--host) cannot be bound: {reason}; give an address of "
                            "this machine, such as 127.0.0.1 or 0.0.0.0") from None


def _check_allowed_root(root: str) -> None:
    """SettingsError naming INFLUENCERS_ALLOWED_ROOT when it is set to no folder: every local row of every
    manifest would fail as "outside the allowed folder", and the page would play no local video."""
    if root and not Path(root).is_dir():
        what = "a file" if Path(root).exists() else "missing"
        raise SettingsError(f"{ENV_PREFIX}ALLOWED_ROOT={root!r} is not a folder ({what}): local videos must lie "
                            "under it; give an existing folder, or leave it empty")


def check_ports(args: argparse.Namespace, settings: Settings) -> None:
    """PortInUse naming the setting when a port this command binds is taken."""
    for name in _ports_to_bind(args):
        _check_port_free(settings.host, name, getattr(settings, name))



def _ports_to_bind(args: argparse.Namespace) -> list[str]:
    """Settings fields of the ports that `args.command` will listen on."""
    metrics = ["metrics_port"] if args.command in ("run", "serve", "service") else []
    if args.command in ("run", "serve"):
        ports = ["analytics_port", "identity_port", "ingest_port", *metrics]
        return ports if getattr(args, "no_serve", False) else [*ports, "web_port"]
    if args.command == "service":
        return [f"{args.service}_port", *metrics] + (["web_port"] if args.service == "analytics" else [])
    return []


def _check_port_free(host: str, name: str, port: int) -> None:
    """PortInUse naming the setting when `port` cannot be bound on `host` now (0 = any port: never)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host.strip("[]"), port), family=family):  # SO_REUSEADDR, as the servers
            pass
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        flag = "--" + name.replace("_", "-")
        raise PortInUse(f"port {port} on {host} is in use by another program: stop it, or choose another "
                        f"with {flag} or {ENV_PREFIX}{name.upper()}") from None


@contextlib.contextmanager
def owning_data_dir(args: argparse.Namespace, settings: Settings) -> Iterator[None]:
    """Holds the data dir's lock for commands that open its stores in this process, once its disk has room
    (DiskFull otherwise: opening the stores writes, and Edge's mapped files meet a full disk with SIGBUS)."""
    owns = args.command in _OWNS_DATA_DIR or (
        args.command == "service" and args.service in _OWNS_DATA_DIR_SERVICES)
    if not owns:
        yield
        return
    with data_dir_lock(settings.data_dir):
        check_room(settings.data_dir, settings.min_free_bytes, "starting")
        yield
