"""The `influencers` command: run, serve, ingest, export, and identity housekeeping."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import logging
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import grpc
from sqlalchemy import exc as sa_exc
from tqdm import tqdm

from influencers import __version__
from influencers.client import (
    cancel_job,
    failed,
    get_job,
    list_jobs,
    start_ingest,
    state_word,
    watch_job,
)
from influencers.v1 import common_pb2, identity_pb2, ingest_pb2
from services.common.boundary import brief
from services.common.clients import CATCHING_UP, REVIEW_ANSWERS, drain
from services.common.damage import DiskFull, StoreDamaged
from services.common.datadir import DataDirBusy, DataDirUnusable, data_dir_lock, prepare_data_dir
from services.common.protoconv import review_reason_word, seconds, status_word
from services.common.rpc import PortInUse, is_loopback, open_channel, wait_healthy
from services.common.settings import ENV_PREFIX, Settings, SettingsError
from services.common.tls import channel_credentials, server_credentials
from services.ingest.manifest import ManifestError, read_manifest

if TYPE_CHECKING:
    from influencers.v1 import identity_pb2
    from services.common.clients import GrpcAnalytics, GrpcIdentity

USAGE_ERROR = 2  # exit code of usage and configuration errors (argparse's own)
SERVICE_ERROR = 1  # exit code when a service cannot be reached or fails a call (as when a row failed)
# Status codes that mean the caller asked for something wrong (an unknown id, a bad value): a usage error.
_USAGE_CODES = frozenset({
    grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED})
SHOWN_CHARS = 200  # of a service's message or a path quoted in an error line
WARNING = "warning: "  # starts the error of a done row that may be partial (services/ingest/pipeline.py WARNING)
# Commands that open the stores of the data dir in this process: one such process per data dir.
_OWNS_DATA_DIR = {"run", "serve"}
_OWNS_DATA_DIR_SERVICES = {"identity", "analytics"}
# Commands that write in the data dir (stores, downloads): it must be a folder they can write, checked first.
_WRITES_DATA_DIR = {"run", "serve", "service"}



def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None), web_port=getattr(args, "web_port", None),
        ingest_port=getattr(args, "ingest_port", None), identity_port=getattr(args, "identity_port", None),
        analytics_port=getattr(args, "analytics_port", None), host=getattr(args, "host", None),
        workers=getattr(args, "workers", None))


WATCH_TIMEOUT_S = 7 * 24 * 3600  # following a job: as long as it takes


def _ingest(settings: Settings, manifest: Path, detach: bool, submit_only: bool = False) -> int:
    """Starts an ingest job for `manifest` and follows it with a progress bar. On Ctrl-C, `detach` leaves
    the job running (and says how to follow or cancel it); otherwise the job is cancelled (its videos in
    flight finish and the batch reconciles) and KeyboardInterrupt goes on up. `submit_only` (--detach):
    prints the job id alone on the last line of stdout and returns 0 without following the job."""
    channel = open_channel(settings.ingest_target, settings.token, channel_credentials(settings))
    wait_s = min(60.0, settings.rpc_timeout_s)
    try:
        wait_healthy(channel, wait_s)
    except TimeoutError:
        raise ServiceUnavailable(f"the ingest service at {settings.ingest_target} did not answer within "
                                 f"{wait_s:g} s{_START_HINT}") from None
    job = start_ingest(channel, manifest, settings.rpc_timeout_s, settings.max_manifest_bytes)
    waiting = (ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING)
    ahead = [j for j in list_jobs(channel, settings.rpc_timeout_s)
             if j.state in waiting and j.job_id != job.job_id and seconds(j.create_time) <= seconds(job.create_time)]
    print(f"job {job.job_id}: {job.total} videos" + (f", queued behind {len(ahead)} job(s)" if ahead else ""),
          file=sys.stderr)
    if submit_only:
        print(f"follow it: influencers jobs {job.job_id}", file=sys.stderr)
        print(job.job_id, flush=True)  # alone on the last line of stdout: scripts read it
        return 0
    results: list[ingest_pb2.WatchJobResponse] = []
    try:
        return _follow(channel, job.job_id, results)
    except KeyboardInterrupt:
        if not detach:
            cancel_job(channel, job.job_id, settings.rpc_timeout_s)
            raise
        print(f"\ndetached after {len(results)} of {job.total} videos: job {job.job_id} goes on.\n"
              f"  follow it:  influencers jobs {job.job_id}\n  cancel it:  influencers cancel {job.job_id}",
              file=sys.stderr)
        return 130


def _follow(channel: grpc.Channel, job_id: str, results: list[ingest_pb2.WatchJobResponse]) -> int:
    """Shows a job's progress until it ends, then a summary; 1 when a video failed or the job did not
    succeed. `results` collects the progress messages as they come."""
    bar = tqdm(total=None, unit="video", desc="ingest", file=sys.stderr)

    def progress(p: ingest_pb2.WatchJobResponse) -> None:
        bar.total = p.total
        bar.update(1)
        if p.video.status == common_pb2.VIDEO_STATUS_FAILED:
            tqdm.write(f"FAILED  {p.video.error}", file=sys.stderr)
        elif p.video.error.startswith(WARNING):  # done, but maybe partly (a truncated file)
            tqdm.write(f"WARNING {_cut(p.video.url)}: {p.video.error.removeprefix(WARNING)}", file=sys.stderr)

    try:
        results, job = watch_job(channel, job_id, WATCH_TIMEOUT_S, progress, results)
    finally:
        bar.close()
    counts: dict[str, int] = {}
    for r in results:
        counts[status_word(r.video.status)] = counts.get(status_word(r.video.status), 0) + 1
    print("videos: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    bad = failed(results)
    for v in bad:
        print(f"  failed: {v.error}")
    if job.state == ingest_pb2.JOB_STATE_FAILED:
        print(f"job {job_id} failed: {job.error} (the next job repairs what it left half done)", file=sys.stderr)
    elif job.state == ingest_pb2.JOB_STATE_CANCELLED:
        print(f"job {job_id} was cancelled after {job.done} of {job.total} videos", file=sys.stderr)
    return 1 if bad or job.state != ingest_pb2.JOB_STATE_SUCCEEDED else 0


def cmd_run(args: argparse.Namespace) -> int:
    from influencers.stack import start_stack
    from services.analytics.export import export_report

    settings = _settings(args)
    stack = start_stack(settings, web=not args.no_serve)
    try:
        code = _ingest(stack.settings, Path(args.manifest), detach=False)
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
        from services.analytics.feed_grpc import start_follower
        from services.analytics.server import serve_analytics
        from services.analytics.store import AnalyticsStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = AnalyticsStore.open(settings)
        follower = start_follower(settings, store)
        server = serve_analytics(settings, store, lambda: follower.follower.head)
        web = start_web(settings, store)
        stoppers = [web.shutdown, server.stop, follower.stop, store.close]
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
    return _ingest(_settings(args), Path(args.manifest), detach=True, submit_only=args.detach)


def cmd_jobs(args: argparse.Namespace) -> int:
    """Without a job id: the ingest jobs, oldest first. With one: follows that job to its end."""
    settings = _settings(args)
    channel = open_channel(settings.ingest_target, settings.token, channel_credentials(settings))
    if args.job:
        get_job(channel, args.job, settings.rpc_timeout_s)  # an unknown id or no service: one line, at once
        try:
            return _follow(channel, args.job, [])
        except KeyboardInterrupt:
            print(f"\nstopped following; job {args.job} goes on", file=sys.stderr)
            return 130
    for job in list_jobs(channel, settings.rpc_timeout_s):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(job.statuses.items()))
        print(f"{job.job_id}  {state_word(job.state):9}  {job.done}/{job.total} videos"
              + (f" ({counts})" if counts else "") + (f"  {job.error}" if job.error else ""))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancels an ingest job: videos not started are not started; the batch still reconciles."""
    settings = _settings(args)
    channel = open_channel(settings.ingest_target, settings.token, channel_credentials(settings))
    job = cancel_job(channel, args.job, settings.rpc_timeout_s)
    if job.state == ingest_pb2.JOB_STATE_RUNNING:
        print(f"job {job.job_id}: cancelling (videos in flight finish; `influencers jobs {job.job_id}` follows it)")
    else:
        print(f"job {job.job_id}: {state_word(get_job(channel, job.job_id, settings.rpc_timeout_s).state)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Writes the report's files; reads INFLUENCERS_DATABASE_URL when set, else the data dir's SQLite file."""
    from services.analytics.export import export_report
    from services.analytics.store import SQLITE_FILE, AnalyticsStore

    settings = _settings(args)
    db = settings.data_dir / SQLITE_FILE
    if not settings.database_url and not db.is_file():
        return _usage_error(f"no data in {_cut(str(settings.data_dir))} (run `influencers run` first)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _usage_error(f"--out {_cut(args.out)} is a file, not a folder")
    try:
        store = AnalyticsStore.open(settings)
    except (sqlite3.DatabaseError, sa_exc.DBAPIError) as exc:
        where = "the database of INFLUENCERS_DATABASE_URL" if settings.database_url else _cut(str(db))
        return _usage_error(f"{where} cannot be read ({_cut(_one_line(_db_error(exc)))})")
    try:
        export_report(store, out)
    finally:
        store.close()
    print(f"exported to {args.out}/")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Scores the current state of a data dir against a corpus's truth.csv (see influencers/evaluate.py)."""
    import tempfile

    from influencers.evaluate import score_dirs

    truth = Path(args.truth)
    if not (truth / "truth.csv").is_file():
        return _usage_error(f"--truth {_cut(args.truth)} holds no truth.csv (give a labelled corpus folder)")
    with tempfile.TemporaryDirectory() as tmp:
        export_args = argparse.Namespace(data_dir=args.data_dir, out=tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            code = cmd_export(export_args)
        if code:
            return code
        try:
            scores = score_dirs(Path(tmp), truth)
        except (KeyError, ValueError) as exc:  # pandas: a malformed CSV, a missing column, a bad encoding
            return _usage_error(f"{_cut(str(truth / 'truth.csv'))} cannot be scored ({_cut(_one_line(str(exc)))})")
    print(scores.summary())
    return 0


def _services(args: argparse.Namespace) -> tuple[GrpcIdentity, GrpcAnalytics]:
    """The running identity and analytics services."""
    from services.common.clients import connect

    return connect(_settings(args))


def _followed(args: argparse.Namespace, analytics: GrpcAnalytics, changed_videos: int, position: int) -> int:
    """Prints what changed once analytics has applied identity's change up to `position` (waiting at most
    INFLUENCERS_FEED_WAIT_S seconds; past that, says analytics is still catching up)."""
    print(f"{changed_videos} videos changed people")
    if not analytics.wait_for_position(position, _settings(args).feed_wait_s):
        print(f"{CATCHING_UP} (identity's change {position})")
    return 0


def _written(args: argparse.Namespace, analytics: GrpcAnalytics, reply: identity_pb2.Changes) -> int:
    return _followed(args, analytics, reply.changed_videos, reply.feed_position)


def cmd_identity(args: argparse.Namespace) -> int:
    """merge / split / rename / recluster against a running identity service; identity publishes the change
    in its feed, analytics applies it by itself, and this waits (bounded) until it has."""
    ident, analytics = _services(args)
    if args.command == "recluster":
        got = drain(ident.recluster((), resync_only=False))
        return _followed(args, analytics, got.changed_videos, got.position)
    if args.command == "rename":
        return _written(args, analytics, ident.rename(args.id, args.name))
    if args.command == "merge":
        return _written(args, analytics, ident.merge(args.ids))
    return _written(args, analytics, ident.split(args.id, args.videos))


MAX_PHOTO_BYTES = 20 * 1024 * 1024  # one reference photo


def cmd_correct(args: argparse.Namespace) -> int:
    """enrol / move / hide / unhide / delete / review / answer against a running identity service; each
    correction is kept by identity as a constraint on the faces and published in its feed; analytics applies
    it by itself, and this waits (bounded) until it has."""
    ident, analytics = _services(args)
    if args.command == "review":
        for item in ident.review():
            print(f"{item.influencer_a}  {item.influencer_b}  {item.distance:.3f}  {review_reason_word(item.reason)}  "
                  f"{item.video_id_a}@{item.timestamp_a_s:.1f}s  {item.video_id_b}@{item.timestamp_b_s:.1f}s")
        return 0
    if args.command == "enrol":
        photos = []
        for name in args.photos:
            path = Path(name)
            if not path.is_file():
                return _usage_error(f"photo {name[:80]!r} not found")
            if path.stat().st_size > MAX_PHOTO_BYTES:
                return _usage_error(f"photo {name[:80]!r} is over {MAX_PHOTO_BYTES // 2**20} MiB")
            photos.append(path.read_bytes())
        enrolled = ident.enrol(args.name, photos)
        for k in enrolled.photos_without_face:
            print(f"no face found in {args.photos[k]}", file=sys.stderr)
        print(f"{enrolled.influencer.influencer_id}: {args.name} ({enrolled.faces_enrolled} reference faces)")
        return _written(args, analytics, enrolled.changes)
    if args.command == "move":
        return _written(args, analytics, ident.move(args.video_id, args.id, args.target or ""))
    if args.command in ("hide", "unhide"):
        return _written(args, analytics, ident.hide(args.id, args.command == "hide"))
    if args.command == "delete":
        erased = ident.erase(args.id)
        if erased.already_erased:
            print(f"{args.id} was already erased; the erasure was published again")
        return _written(args, analytics, erased.changes)
    return _written(args, analytics, ident.answer(args.a, args.b, REVIEW_ANSWERS[args.answer]))


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
    ing.add_argument("--detach", action="store_true",
                     help="submit the job and exit; print its id alone on the last line (follow it: `jobs JOB`)")
    common(ing)
    ing.set_defaults(func=cmd_ingest)
    jobs = sub.add_parser("jobs", help="list the ingest jobs of running services, or follow one (JOB)")
    jobs.add_argument("job", nargs="?", help="a job id: follow its progress until it ends")
    common(jobs)
    jobs.set_defaults(func=cmd_jobs)
    cancel = sub.add_parser("cancel", help="cancel an ingest job (videos in flight finish; the batch reconciles)")
    cancel.add_argument("job")
    common(cancel)
    cancel.set_defaults(func=cmd_cancel)
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
    enrol = sub.add_parser("enrol", help="name a known person from reference photos (never counted as appearances)")
    enrol.add_argument("name")
    enrol.add_argument("photos", nargs="+", metavar="PHOTO", help="JPEG or PNG files, one face each")
    move = sub.add_parser("move", help="move one video's appearance of an influencer to another (or a new one)")
    move.add_argument("video_id")
    move.add_argument("id")
    move.add_argument("target", nargs="?", help="the influencer it goes to (default: a new one)")
    hide = sub.add_parser("hide", help="mark an influencer 'not an influencer' (kept, left out of statistics)")
    hide.add_argument("id")
    unhide = sub.add_parser("unhide", help="count a hidden influencer again")
    unhide.add_argument("id")
    delete = sub.add_parser("delete", help="erase a person: faces, crops, name and appearances (audited)")
    delete.add_argument("id")
    review = sub.add_parser("review", help="list the 'same person?' queue, most likely first")
    answer = sub.add_parser("answer", help="answer a review item: same (merge), different (keep apart) or skip")
    answer.add_argument("a")
    answer.add_argument("b")
    answer.add_argument("answer", choices=tuple(REVIEW_ANSWERS))
    for sp in (enrol, move, hide, unhide, delete, review, answer):
        common(sp)
        sp.set_defaults(func=cmd_correct)
    return p


class _Terminated(Exception):
    """SIGTERM arrived: unwinds like Ctrl-C, so that every `finally` stops its services and workers."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


class ServiceUnavailable(Exception):
    """A service did not answer; the message names it and its address."""


_START_HINT = " (is it running? `influencers serve` starts the services)"


def _usage_error(message: str) -> int:
    print(f"influencers: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _one_line(text: str) -> str:
    """`text` on one line: line breaks and other control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cut(text: str) -> str:
    return brief(text, SHOWN_CHARS)


def _service_error(command: str, exc: grpc.RpcError) -> int:
    """One line for a failed call: the command, the status and the service's message (cut short). Exit 2 when
    the request was wrong (an unknown id, a bad value, a bad token), 1 when the service failed or is down."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    hint = _START_HINT if code == grpc.StatusCode.UNAVAILABLE else ""
    print(f"influencers: error: {command}: {code.name}: {_cut(_one_line(details or 'no message'))}{hint}",
          file=sys.stderr)
    return USAGE_ERROR if code in _USAGE_CODES else SERVICE_ERROR


def _db_error(exc: Exception) -> str:
    """The driver's own words of a database error (SQLAlchemy wraps them with the statement and a link)."""
    return str(exc.orig) if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else str(exc)


def _os_error(command: str, exc: OSError) -> int:
    """One line for a file or folder this command could not use (exit 2: the path given is unusable)."""
    where = f" {_cut(_one_line(str(exc.filename)))}" if exc.filename is not None else ""
    print(f"influencers: error: {command}: cannot use{where} ({exc.strerror or _one_line(str(exc))})",
          file=sys.stderr)
    return USAGE_ERROR


def _check_inputs(args: argparse.Namespace) -> None:
    """Fails fast, before anything starts, on what would otherwise fail minutes later: the settings (every
    variable and flag, typed and range-checked), the manifest (readable, with its two columns), the data
    dir (a folder this process can write), the TLS files and the ports this command binds."""
    settings = _settings(args)
    server_credentials(settings)  # unreadable certificate or key files: one line naming the variable
    channel_credentials(settings)
    manifest = getattr(args, "manifest", None)
    if manifest is not None:
        if not Path(manifest).exists():
            raise ManifestError(f"manifest {manifest} not found")
        read_manifest(Path(manifest), settings.max_manifest_bytes)
    if args.command in _WRITES_DATA_DIR:
        prepare_data_dir(settings.data_dir)
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
    """Entry point of `influencers` and `python -m influencers`. Exit codes: 0 done; 1 some row failed, or a
    service could not be reached or failed a call; 2 usage or configuration error (a bad setting or path,
    an unusable data dir, an unknown id or bad value refused by a service); 130 interrupted (Ctrl-C or
    SIGTERM). Every error is one line on stderr, `influencers: error: ...`, never a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "werkzeug", "alembic"):  # alembic: a line per plugin at every store open
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _check_inputs(args)
        with _owning_data_dir(args):
            return int(args.func(args) or 0)
    except (SettingsError, ManifestError, DataDirBusy, DataDirUnusable, PortInUse, StoreDamaged, DiskFull) as exc:
        return _usage_error(str(exc))
    except grpc.RpcError as exc:
        return _service_error(args.command, exc)
    except (ServiceUnavailable, TimeoutError) as exc:  # TimeoutError: a job's progress lost, a deadline
        print(f"influencers: error: {args.command}: {_cut(_one_line(str(exc)))}", file=sys.stderr)
        return SERVICE_ERROR
    except OSError as exc:  # a folder or file given (data dir, --out, --report) that cannot be used
        return _os_error(args.command, exc)
    except (sqlite3.DatabaseError, sa_exc.DBAPIError) as exc:  # the analytics store: not a database, a folder
        logging.getLogger(__name__).debug("store error", exc_info=True)
        return _usage_error(f"{args.command}: the analytics store in data dir "
                            f"{_cut(str(_settings(args).data_dir))} cannot be used ({_cut(_one_line(_db_error(exc)))})")
    except (KeyboardInterrupt, _Terminated):
        print("interrupted: what was recorded is kept; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
