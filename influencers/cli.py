"""The `influencers` command: run, serve, ingest, export, and identity housekeeping."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

from influencers import __version__
from influencers.client import failed, ingest_manifest
from influencers.datadir import DataDirBusy, data_dir_lock
from influencers.rpc import PortInUse, is_loopback, open_channel, wait_healthy
from influencers.settings import ENV_PREFIX, Settings, SettingsError
from influencers.v1 import common_pb2, identity_pb2, identity_pb2_grpc
from services.ingest.manifest import ManifestError, read_manifest

USAGE_ERROR = 2  # exit code of usage and configuration errors (argparse's own)
# Commands that open the stores of the data dir in this process: one such process per data dir.
_OWNS_DATA_DIR = {"run", "serve"}
_OWNS_DATA_DIR_SERVICES = {"identity", "analytics"}

STATUS = {v.number: v.name.removeprefix("VIDEO_STATUS_").lower()
          for v in common_pb2.VideoStatus.DESCRIPTOR.values}


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None), web_port=getattr(args, "web_port", None),
        ingest_port=getattr(args, "ingest_port", None), identity_port=getattr(args, "identity_port", None),
        analytics_port=getattr(args, "analytics_port", None), host=getattr(args, "host", None),
        workers=getattr(args, "workers", None))


def _ingest(settings: Settings, manifest: Path) -> int:
    channel = open_channel(settings.ingest_target, settings.token)
    wait_healthy(channel, 60)
    bar = tqdm(total=None, unit="video", desc="ingest", file=sys.stderr)

    def progress(p):  # type: ignore[no-untyped-def]
        bar.total = p.total
        bar.update(1)
        if p.video.status == common_pb2.VIDEO_STATUS_FAILED:
            tqdm.write(f"FAILED  {p.video.error}", file=sys.stderr)

    results = ingest_manifest(channel, manifest, timeout_s=24 * 3600, on_progress=progress)
    bar.close()
    counts: dict[str, int] = {}
    for r in results:
        counts[STATUS[r.video.status]] = counts.get(STATUS[r.video.status], 0) + 1
    print("videos: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    bad = failed(results)
    for v in bad:
        print(f"  failed: {v.error}")
    return 1 if bad else 0


def cmd_run(args: argparse.Namespace) -> int:
    from influencers.stack import start_stack
    from services.analytics.export import export_report

    settings = _settings(args)
    stack = start_stack(settings, web=not args.no_serve)
    try:
        code = _ingest(stack.settings, Path(args.manifest))
        out = Path(args.report or settings.data_dir / "report")
        export_report(stack.store, out)
        print(f"report written to {out}/")
        if not args.no_serve:
            print(f"report page: {stack.web_url}  (Ctrl-C to stop)")
            _wait_for_signal()
        return code
    finally:
        stack.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    from influencers.stack import start_stack

    stack = start_stack(_settings(args), web=True)
    s = stack.settings
    print(f"ingest {s.host}:{s.ingest_port}  identity {s.identity_target}  analytics {s.analytics_target}  "
          f"page {stack.web_url}", flush=True)
    try:
        _wait_for_signal()
    finally:
        stack.stop()
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    """One service alone, as a container runs it; the others are found at the *_ADDR settings."""
    settings = _settings(args)
    stoppers = []
    if args.service == "analytics":
        from influencers.stack import start_web
        from services.analytics.server import serve_analytics
        from services.analytics.store import AnalyticsStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = AnalyticsStore(settings.data_dir / "analytics.sqlite3")
        server = serve_analytics(settings, store)
        web = start_web(settings, store)
        stoppers = [web.shutdown, server.stop, store.close]
    elif args.service == "identity":
        from services.identity.server import IdentityProcess

        stoppers = [IdentityProcess(settings).stop]
    else:
        from services.ingest.server import IngestProcess

        stoppers = [IngestProcess(settings).stop]
    try:
        _wait_for_signal()
    finally:
        for stop in stoppers:
            stop()
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    return _ingest(_settings(args), Path(args.manifest))


def cmd_export(args: argparse.Namespace) -> int:
    from services.analytics.export import export_report
    from services.analytics.store import AnalyticsStore

    settings = _settings(args)
    db = settings.data_dir / "analytics.sqlite3"
    if not db.is_file():
        print(f"no data in {settings.data_dir} (run `influencers run` first)", file=sys.stderr)
        return 2
    store = AnalyticsStore(db)
    try:
        export_report(store, Path(args.out))
    finally:
        store.close()
    print(f"exported to {args.out}/")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Scores the current state of a data dir against a corpus's truth.csv (see influencers/evaluate.py)."""
    import tempfile

    from influencers.evaluate import score_dirs

    with tempfile.TemporaryDirectory() as tmp:
        export_args = argparse.Namespace(data_dir=args.data_dir, out=tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            code = cmd_export(export_args)
        if code:
            return code
        scores = score_dirs(Path(tmp), Path(args.truth))
    print(scores.summary())
    return 0


def cmd_identity(args: argparse.Namespace) -> int:
    """merge / split / rename / recluster against a running identity service; analytics follows."""
    from influencers.v1 import analytics_pb2_grpc
    from services.ingest.server import reconcile, send_changes

    settings = _settings(args)
    ident = identity_pb2_grpc.IdentityServiceStub(open_channel(settings.identity_target, settings.token))
    analytics = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(settings.analytics_target, settings.token))
    t = settings.rpc_timeout_s
    if args.command == "recluster":
        print(f"{reconcile(ident, analytics, t)} videos changed people")
        return 0
    if args.command == "rename":
        ident.RenameInfluencer(identity_pb2.RenameInfluencerRequest(influencer_id=args.id, name=args.name), timeout=t)
        changes = identity_pb2.ReclusterResponse(names={args.id: args.name})
    elif args.command == "merge":
        changes = ident.MergeInfluencers(identity_pb2.MergeInfluencersRequest(influencer_ids=args.ids), timeout=t)
    else:
        changes = ident.SplitInfluencer(identity_pb2.SplitInfluencerRequest(
            influencer_id=args.id, video_ids=args.videos), timeout=t)
    send_changes(analytics, changes, t)
    print(f"{changes.changed_videos} videos changed people")
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not the usage text and then the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="influencers", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, ports: bool = True) -> None:
        sp.add_argument("--data-dir", help="where the stores live (default ./data, env INFLUENCERS_DATA_DIR)")
        if ports:
            sp.add_argument("--host", help="interface to bind (default 127.0.0.1)")
            sp.add_argument("--web-port", type=int, help="report page port (default 8080)")
            sp.add_argument("--ingest-port", type=int)
            sp.add_argument("--identity-port", type=int)
            sp.add_argument("--analytics-port", type=int)
            sp.add_argument("--workers", type=int, help="face-analysis processes (default: one per core)")

    run = sub.add_parser("run", help="start everything, ingest a manifest, write the report, serve the page")
    run.add_argument("manifest")
    run.add_argument("--no-serve", action="store_true", help="exit when the report is written")
    run.add_argument("--report", help="report folder (default DATA_DIR/report)")
    common(run)
    run.set_defaults(func=cmd_run)
    serve = sub.add_parser("serve", help="start the three services and the page, and wait")
    common(serve)
    serve.set_defaults(func=cmd_serve)
    one = sub.add_parser("service", help="run one service alone (containers, scale-out)")
    one.add_argument("service", choices=["ingest", "identity", "analytics"])
    common(one)
    one.set_defaults(func=cmd_service)
    ing = sub.add_parser("ingest", help="send a manifest to running services")
    ing.add_argument("manifest")
    common(ing)
    ing.set_defaults(func=cmd_ingest)
    exp = sub.add_parser("export", help="write the CSV report from a data dir")
    exp.add_argument("--out", required=True)
    common(exp, ports=False)
    exp.set_defaults(func=cmd_export)
    ev = sub.add_parser("eval", help="score a data dir against a labelled corpus (truth.csv)")
    ev.add_argument("--truth", required=True, help="corpus folder holding truth.csv")
    common(ev, ports=False)
    ev.set_defaults(func=cmd_eval)
    rec = sub.add_parser("recluster", help="re-derive all influencers from the stored faces (running services)")
    common(rec)
    rec.set_defaults(func=cmd_identity)
    merge = sub.add_parser("merge", help="merge influencers into the first one given")
    merge.add_argument("ids", nargs="+")
    common(merge)
    merge.set_defaults(func=cmd_identity)
    split = sub.add_parser("split", help="move an influencer's faces in some videos to a new influencer")
    split.add_argument("id")
    split.add_argument("videos", nargs="+")
    common(split)
    split.set_defaults(func=cmd_identity)
    rename = sub.add_parser("rename", help="give an influencer a display name")
    rename.add_argument("id")
    rename.add_argument("name")
    common(rename)
    rename.set_defaults(func=cmd_identity)
    return p


class _Terminated(Exception):
    """SIGTERM arrived: unwinds like Ctrl-C, so that every `finally` stops its services and workers."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _usage_error(message: str) -> int:
    print(f"influencers: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _check_inputs(args: argparse.Namespace) -> None:
    """Fails fast, before anything starts, on what would otherwise fail minutes later: the settings (every
    variable and flag, typed and range-checked), the manifest (readable, with its two columns) and the
    ports this command binds."""
    settings = _settings(args)
    manifest = getattr(args, "manifest", None)
    if manifest is not None:
        if not Path(manifest).exists():
            raise ManifestError(f"manifest {manifest} not found")
        read_manifest(Path(manifest))
    ports = _ports_to_bind(args)
    if ports and not settings.token and not is_loopback(settings.host):
        raise SettingsError(f"INFLUENCERS_HOST={settings.host} is beyond loopback: set INFLUENCERS_TOKEN too")
    for name in ports:
        _check_port_free(settings.host, name, getattr(settings, name))


def _ports_to_bind(args: argparse.Namespace) -> list[str]:
    """Settings fields of the ports that `args.command` will listen on."""
    if args.command in ("run", "serve"):
        ports = ["analytics_port", "identity_port", "ingest_port"]
        return ports if getattr(args, "no_serve", False) else [*ports, "web_port"]
    if args.command == "service":
        return [f"{args.service}_port"] + (["web_port"] if args.service == "analytics" else [])
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
def _owning_data_dir(args: argparse.Namespace) -> Iterator[None]:
    """Holds the data dir's lock for commands that open its stores in this process."""
    owns = args.command in _OWNS_DATA_DIR or (
        args.command == "service" and args.service in _OWNS_DATA_DIR_SERVICES)
    if not owns:
        yield
        return
    with data_dir_lock(_settings(args).data_dir):
        yield


def main(argv: list[str] | None = None) -> int:
    """Entry point of `influencers` and `python -m influencers`. Exit codes: 0 done, 1 some row failed,
    2 usage or configuration error (one line on stderr), 130 interrupted (Ctrl-C or SIGTERM)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _check_inputs(args)
        with _owning_data_dir(args):
            return int(args.func(args) or 0)
    except (SettingsError, ManifestError, DataDirBusy) as exc:
        return _usage_error(str(exc))
    except PortInUse as exc:
        return _usage_error(str(exc))
    except (KeyboardInterrupt, _Terminated):
        print("interrupted: what was recorded is kept; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
