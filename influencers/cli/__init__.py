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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import grpc
from sqlalchemy import exc as sa_exc
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from influencers import __version__
from influencers.cli.config import (
    configure_cli_logging,
    served_metrics,
    settings_from_args,
    uses_json_logs,
)
from influencers.cli.output import (
    SERVICE_ERROR,
    START_HINT,
    USAGE_ERROR,
    ServiceUnavailable,
    cut,
    db_error,
    os_error,
    service_error,
    tell,
    usage_error,
)
from influencers.client import (
    cancel_job,
    failed,
    get_job,
    list_jobs,
    start_ingest,
    state_word,
    watch_job,
)
from influencers.names import Resolver
from influencers.v1 import common_pb2, identity_pb2, ingest_pb2
from services.common import tracing
from services.common.boundary import brief, escaped
from services.common.clients import CATCHING_UP, REVIEW_ANSWERS, drain
from services.common.damage import DiskFull, StoreDamaged
from services.common.datadir import DataDirBusy, DataDirUnusable, data_dir_lock, prepare_data_dir
from services.common.metrics import DEFAULT_PORT as DEFAULT_METRICS_PORT
from services.common.metrics import MetricsPortInUse
from services.common.names import NameLookupError, namesakes, shared_name_note
from services.common.protoconv import review_reason_word, seconds, status_word
from services.common.rpc import PortInUse, is_loopback, open_channel, wait_healthy
from services.common.settings import ENV_PREFIX, Settings, SettingsError
from services.common.tls import channel_credentials, server_credentials
from services.ingest.manifest import ManifestError, read_manifest

if TYPE_CHECKING:
    from influencers.v1 import identity_pb2
    from services.common.clients import GrpcAnalytics, GrpcIdentity

WARNING = "warning: "  # starts the error of a done row that may be partial (services/ingest/pipeline.py WARNING)
# Commands that open the stores of the data dir in this process: one such process per data dir.
_OWNS_DATA_DIR = {"run", "serve"}
_OWNS_DATA_DIR_SERVICES = {"identity", "analytics"}
# Commands that write in the data dir (stores, downloads): it must be a folder they can write, checked first.
_WRITES_DATA_DIR = {"run", "serve", "service"}


WATCH_TIMEOUT_S = 7 * 24 * 3600  # following a job: as long as it takes


def _ingest(settings: Settings, manifest: Path, detach: bool, submit_only: bool = False) -> int:
    """Starts an ingest job for `manifest` and follows it with a progress bar. On Ctrl-C, `detach` leaves
    the job running (and says how to follow or cancel it); otherwise the job is cancelled (its videos in
    flight finish and the batch reconciles) and KeyboardInterrupt goes on up. `submit_only` (--detach):
    prints the job id alone on the last line of stdout and returns 0 without following the job."""
    channel = _reached(settings, "ingest", settings.ingest_target)
    wait_s = min(60.0, settings.rpc_timeout_s)
    try:
        wait_healthy(channel, wait_s)
    except TimeoutError:
        raise ServiceUnavailable(f"the ingest service at {settings.ingest_target} is not ready: it did not "
                                 f"answer its health check within {wait_s:g} s") from None
    job = start_ingest(channel, manifest, settings.rpc_timeout_s, settings.max_manifest_bytes)
    waiting = (ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING)
    ahead = [j for j in list_jobs(channel, settings.rpc_timeout_s)
             if j.state in waiting and j.job_id != job.job_id and seconds(j.create_time) <= seconds(job.create_time)]
    json_logs = uses_json_logs(settings)
    tell(f"job {job.job_id}: {job.total} videos" + (f", queued behind {len(ahead)} job(s)" if ahead else ""),
          json_logs)
    if submit_only:
        tell(f"follow it: influencers jobs {job.job_id}", json_logs)
        print(job.job_id, flush=True)  # alone on the last line of stdout: scripts read it
        return 0
    results: list[ingest_pb2.WatchJobResponse] = []
    try:
        return _follow(channel, job.job_id, results, job.total, json_logs)
    except KeyboardInterrupt:
        if not detach:
            cancel_job(channel, job.job_id, settings.rpc_timeout_s)
            raise
        print(f"\ndetached after {len(results)} of {job.total} videos: job {job.job_id} goes on.\n"
              f"  follow it:  influencers jobs {job.job_id}\n  cancel it:  influencers cancel {job.job_id}",
              file=sys.stderr)
        return 130


def _follow(channel: grpc.Channel, job_id: str, results: list[ingest_pb2.WatchJobResponse], total: int,
            json_logs: bool = False) -> int:
    """Shows a job's progress (of `total` videos) until it ends, then a summary; 1 when a video failed or the
    job did not succeed. `results` collects the progress messages as they come. With `json_logs` stderr is
    JSON lines only: no bar, and each failed or partly read video is a log record."""
    bar = tqdm(total=total, unit=" video", desc="ingest", file=sys.stderr, disable=json_logs)

    def say(line: str) -> None:
        tell(line, json_logs, logging.WARNING)

    def progress(p: ingest_pb2.WatchJobResponse) -> None:
        bar.total = p.total
        bar.update(1)
        if p.video.status == common_pb2.VIDEO_STATUS_FAILED:
            say(f"FAILED  {p.video.error}")
        elif p.video.error.startswith(WARNING):  # done, but maybe partly (a truncated file)
            say(f"WARNING {cut(p.video.url)}: {p.video.error.removeprefix(WARNING)}")

    try:
        with logging_redirect_tqdm():  # the services of `run` log here too: above the bar, never inside it
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
        tell(f"job {job_id} failed: {job.error} (the next job repairs what it left half done)", json_logs,
              logging.ERROR)
    elif job.state == ingest_pb2.JOB_STATE_CANCELLED:
        tell(f"job {job_id} was cancelled after {job.done} of {job.total} videos", json_logs, logging.WARNING)
    return 1 if bad or job.state != ingest_pb2.JOB_STATE_SUCCEEDED else 0


def cmd_run(args: argparse.Namespace) -> int:
    from influencers.stack import start_stack
    from services.analytics.export import export_report

    settings = settings_from_args(args)
    with served_metrics(settings) as metrics:
        stack = start_stack(settings, web=not args.no_serve)
        try:
            code = _ingest(stack.settings, Path(args.manifest), detach=False)
            out = Path(args.report or settings.data_dir / "report")
            export_report(stack.store, out, settings.allowed_root)
            print(f"report written to {out}/")
            if not args.no_serve:
                print(f"report page: {stack.web_url}" + (f"  metrics: {metrics.url}" if metrics else "")
                      + "  (Ctrl-C to stop)")
                _wait_for_signal()
            return code
        finally:
            stack.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    from influencers.stack import start_stack

    settings = settings_from_args(args)
    with served_metrics(settings) as metrics:
        stack = start_stack(settings, web=True)
        s = stack.settings
        print(f"ingest {s.host}:{s.ingest_port}  identity {s.identity_target}  analytics {s.analytics_target}  "
              f"page {stack.web_url}" + (f"  metrics {metrics.url}" if metrics else ""), flush=True)
        log = logging.getLogger(__name__)
        try:
            log.info("stopping on %s (work in flight finishes first)", _wait_for_signal())
        finally:
            stack.stop()
            log.info("stopped")
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    """One service alone, as a container runs it; the others are found at the *_ADDR settings."""
    settings = settings_from_args(args)
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
    log = logging.getLogger(__name__)
    try:
        with served_metrics(settings):
            log.info("%s stopping on %s (work in flight finishes first)", args.service, _wait_for_signal())
    finally:
        for stop in stoppers:
            stop()
        log.info("%s stopped", args.service)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    return _ingest(settings_from_args(args), Path(args.manifest), detach=True, submit_only=args.detach)


def cmd_jobs(args: argparse.Namespace) -> int:
    """Without a job id: the ingest jobs, oldest first. With one: follows that job to its end."""
    settings = settings_from_args(args)
    channel = _reached(settings, "ingest", settings.ingest_target)
    if args.job:
        job = get_job(channel, args.job, settings.rpc_timeout_s)  # an unknown id or no service: one line, at once
        try:
            return _follow(channel, args.job, [], job.total, uses_json_logs(settings))
        except KeyboardInterrupt:
            print(f"\nstopped following; job {args.job} goes on", file=sys.stderr)
            return 130
    jobs = list_jobs(channel, settings.rpc_timeout_s)
    if not jobs:
        print("no ingest jobs yet (start one: influencers ingest MANIFEST)")
    for job in jobs:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(job.statuses.items()))
        print(f"{job.job_id}  {state_word(job.state):9}  {job.done}/{job.total} videos"
              + (f" ({counts})" if counts else "") + (f"  {job.error}" if job.error else ""))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancels an ingest job: videos not started are not started; the batch still reconciles."""
    settings = settings_from_args(args)
    channel = _reached(settings, "ingest", settings.ingest_target)
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
    from services.analytics.store_schema import StaleSchema

    settings = settings_from_args(args)
    db = settings.data_dir / SQLITE_FILE
    if not settings.database_url and not db.is_file():
        return usage_error(f"no data in {cut(str(settings.data_dir))} (run `influencers run` first)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return usage_error(f"--out {cut(args.out)} is a file, not a folder")
    try:
        store = AnalyticsStore.open(settings, read_only=True)  # a data dir on a read-only mount is exported too
    except (sqlite3.DatabaseError, sa_exc.DBAPIError) as exc:
        where = "the database of INFLUENCERS_DATABASE_URL" if settings.database_url else cut(str(db))
        return usage_error(f"{where} cannot be read ({cut(escaped(db_error(exc)))})")
    except StaleSchema as exc:
        return usage_error(str(exc))
    try:
        export_report(store, out, settings.allowed_root)
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
        return usage_error(f"--truth {cut(args.truth)} holds no truth.csv (give a labelled corpus folder)")
    with tempfile.TemporaryDirectory() as tmp:
        export_args = argparse.Namespace(data_dir=args.data_dir, out=tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            code = cmd_export(export_args)
        if code:
            return code
        try:
            scores = score_dirs(Path(tmp), truth)
        except (KeyError, ValueError) as exc:  # pandas: a malformed CSV, a missing column, a bad encoding
            return usage_error(f"{cut(str(truth / 'truth.csv'))} cannot be scored ({cut(escaped(str(exc)))})")
    print(scores.summary())
    return 0


CONNECT_WAIT_S = 3.0  # the first connection to a service: past this it is not running (the CLI fails in < 5 s)


def _reached(settings: Settings, service: str, target: str, actor: str = "") -> grpc.Channel:
    """A channel to `service` at `target`, once it has connected; ServiceUnavailable naming the service when
    it has not within CONNECT_WAIT_S (a refused connection is retried with backoff until then: a service just
    started gets that long to listen)."""
    channel = open_channel(target, settings.token, channel_credentials(settings), actor=actor)
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_WAIT_S)
    except grpc.FutureTimeoutError:
        channel.close()
        raise ServiceUnavailable(f"the {service} service at {target} is not answering (no connection within "
                                 f"{CONNECT_WAIT_S:g} s){START_HINT}") from None
    return channel


def _services(args: argparse.Namespace) -> tuple[GrpcIdentity, GrpcAnalytics]:
    """The running identity and analytics services, each reached (or ServiceUnavailable naming it)."""
    from influencers.v1 import analytics_pb2_grpc, identity_pb2_grpc
    from services.common.actor import cli_actor
    from services.common.clients import GrpcAnalytics, GrpcIdentity

    s = settings_from_args(args)
    identity = identity_pb2_grpc.IdentityServiceStub(_reached(s, "identity", s.identity_target, cli_actor()))
    analytics = analytics_pb2_grpc.AnalyticsServiceStub(
        open_channel(s.analytics_target, s.token, channel_credentials(s)) if args.command == "review"  # reads only
        else _reached(s, "analytics", s.analytics_target))
    return GrpcIdentity(identity, s.rpc_timeout_s), GrpcAnalytics(analytics, s.rpc_timeout_s)


def _followed(args: argparse.Namespace, analytics: GrpcAnalytics, changed_videos: int, position: int) -> int:
    """Prints what changed once analytics has applied identity's change up to `position` (waiting at most
    INFLUENCERS_FEED_WAIT_S seconds; past that, says analytics is still catching up)."""
    if changed_videos:  # a rename or a hide moves no face: nothing to count
        print(f"{changed_videos} video{'' if changed_videos == 1 else 's'} changed people")
    if not analytics.wait_for_position(position, settings_from_args(args).feed_wait_s):
        print(f"{CATCHING_UP} (identity's change {position})")
    return 0


def _written(args: argparse.Namespace, analytics: GrpcAnalytics, reply: identity_pb2.Changes) -> int:
    """What a correction did, in a sentence with its audit id (and how to undo it), then _followed."""
    from services.analytics.audit import describe, row_from_entry

    row = row_from_entry(reply.audit)
    if row is not None:
        undo = f"; `influencers undo {row.audit_id}` reverts it" if row.undoable else ""
        print(f"{describe(row)} (audit {row.audit_id}{undo})")
    return _followed(args, analytics, reply.changed_videos, reply.feed_position)


def cmd_identity(args: argparse.Namespace) -> int:
    """merge / split / rename / recluster against a running identity service; identity publishes the change
    in its feed, analytics applies it by itself, and this waits (bounded) until it has."""
    ident, analytics = _services(args)
    who = Resolver(ident)
    if args.command == "recluster":
        got = drain(ident.recluster((), resync_only=False))
        return _followed(args, analytics, got.changed_videos, got.position)
    if args.command == "rename":
        target = who.one(args.id)
        others = namesakes(target, args.name, who.known())
        reply = ident.rename(target, args.name)
        if not reply.audit.audit_id:  # the name it had already (or no name for someone unnamed)
            had = "has that name" if reply.labels[0].name else "has no name"
            print(f"{_named(who, target)} {had} already: nothing changed")
            return 0
        code = _written(args, analytics, reply)
        if others:
            print(shared_name_note(" ".join(args.name.split()), others))
        return code
    if args.command == "merge":
        ids = who.merge(args.ids, args.into or "")
        if len(ids) < 2:
            return usage_error("merge: give at least two different influencers")
        print(f"merging into {_named(who, ids[0])}: {', '.join(_named(who, i) for i in ids[1:])}")
        return _written(args, analytics, ident.merge(ids))
    return _written(args, analytics, ident.split(who.one(args.id), args.videos))


def _named(who: Resolver, influencer_id: str) -> str:
    """`Name (inf_…)`, or the id alone for an unnamed influencer."""
    name = next((k.name for k in who.known() if k.influencer_id == influencer_id), "")
    return f"{name} ({influencer_id})" if name else influencer_id


MAX_PHOTO_BYTES = 20 * 1024 * 1024  # one reference photo


def cmd_correct(args: argparse.Namespace) -> int:
    """enrol / move / hide / unhide / delete / review / answer against a running identity service; each
    correction is kept by identity as a constraint on the faces and published in its feed; analytics applies
    it by itself, and this waits (bounded) until it has."""
    ident, analytics = _services(args)
    who = Resolver(ident)
    if args.command == "review":
        found = ident.review_queue(0, include_unlikely=args.all)
        if found.items:  # the columns' names first (nothing at all on stdout when nothing is to be asked)
            print("influencer_a  influencer_b  face_distance  why_asked  seen_a  seen_b  probability_same")
        for item in found.items:
            at_a, at_b = seconds(item.timestamp_a), seconds(item.timestamp_b)
            print(f"{item.influencer_a}  {item.influencer_b}  {item.distance:.3f}  {review_reason_word(item.reason)}  "
                  f"{item.video_id_a}@{at_a:.1f}s  {item.video_id_b}@{at_b:.1f}s  {round(100 * item.probability)}%")
        if found.unlikely and not args.all:
            print(f"{found.unlikely} less likely pair(s) under {round(100 * found.floor)}%: --all lists them",
                  file=sys.stderr)
        return 0
    if args.command == "enrol":
        photos = []
        for name in args.photos:
            path = Path(name)
            if not path.is_file():
                return usage_error(f"photo {name[:80]!r} not found")
            if path.stat().st_size > MAX_PHOTO_BYTES:
                return usage_error(f"photo {name[:80]!r} is over {MAX_PHOTO_BYTES // 2**20} MiB")
            photos.append(path.read_bytes())
        enrolled = ident.enrol(args.name, photos)
        for k in enrolled.photos_without_face:
            print(f"no face found in {args.photos[k]}", file=sys.stderr)
        print(f"{enrolled.influencer.influencer_id}: {args.name} ({enrolled.faces_enrolled} reference faces)")
        return _written(args, analytics, enrolled.changes)
    if args.command == "move":
        target = who.one(args.target) if args.target else ""
        return _written(args, analytics, ident.move(args.video_id, who.one(args.id), target))
    if args.command in ("hide", "unhide"):
        return _written(args, analytics, ident.hide(who.one(args.id), args.command == "hide"))
    if args.command == "delete":
        erased = ident.erase(who.one(args.id))
        if erased.already_erased:
            print(f"{args.id} was already erased; the erasure was published again")
        return _written(args, analytics, erased.changes)
    if args.command == "undo":
        reply = ident.undo(args.audit_id)
        if not reply.audit.audit_id:  # identity answers a second undo with no change and no audit entry
            print(f"correction {args.audit_id} was undone already: nothing changed")
            return 0
        return _written(args, analytics, reply)
    return _written(args, analytics, ident.answer(who.one(args.a), who.one(args.b), REVIEW_ANSWERS[args.answer]))


def _wait_for_signal() -> str:
    """Waits for Ctrl-C or SIGTERM; returns the signal's name."""
    stop = threading.Event()
    received: list[str] = []

    def note(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, note)
    stop.wait()
    return received[0] if received else ""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not the usage text and then the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per job. Each takes the options of its group only (argparse parents): commands that
    start services take the data dir, the ports they bind and the workers; commands that talk to running
    services take only where those services are (--host and their ports); file commands take the data dir."""
    p = _OneLineParser(prog="influencers", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           help="one of these; `influencers COMMAND --help` lists its own options")

    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-dir", help="where the stores live (default ./data, env INFLUENCERS_DATA_DIR)")
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--host", help="interface to bind (default 127.0.0.1, env INFLUENCERS_HOST)")
    server.add_argument("--web-port", type=int, help="report page port (default 8080)")
    server.add_argument("--ingest-port", type=int, help="ingest service port (default 50051)")
    server.add_argument("--identity-port", type=int, help="identity service port (default 50052)")
    server.add_argument("--analytics-port", type=int, help="analytics service port (default 50053)")
    server.add_argument("--workers", type=int, help="face-analysis processes (default: one per core)")
    server.add_argument("--metrics-port", type=int,
                        help=f"Prometheus metrics port, 0 = none (default {DEFAULT_METRICS_PORT} for run and "
                             "serve, none for service; env INFLUENCERS_METRICS_PORT)")
    where = "host of the running services (default 127.0.0.1, env INFLUENCERS_HOST)"
    ingest_client = argparse.ArgumentParser(add_help=False)
    ingest_client.add_argument("--host", help=where)
    ingest_client.add_argument("--ingest-port", type=int, help="the ingest service's port (default 50051)")
    identity_client = argparse.ArgumentParser(add_help=False)
    identity_client.add_argument("--host", help=where)
    identity_client.add_argument("--identity-port", type=int, help="the identity service's port (default 50052)")
    identity_client.add_argument("--analytics-port", type=int, help="the analytics service's port (default 50053)")

    def command(name: str, text: str, parents: list[argparse.ArgumentParser], func: Callable[..., int]
                ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=text, description=text, parents=parents)
        sp.set_defaults(func=func)
        return sp

    manifest = "CSV of the videos: columns 'Video URL' and 'Performance'"
    person = "an influencer: its name, or its id (inf_ and 10 hex digits)"
    run = command("run", "start everything, ingest a manifest, write the report, serve the page",
                  [data, server], cmd_run)
    run.add_argument("manifest", help=manifest)
    run.add_argument("--no-serve", action="store_true", help="exit when the report is written")
    run.add_argument("--report", help="report folder (default DATA_DIR/report)")
    command("serve", "start the three services and the page, and wait", [data, server], cmd_serve)
    one = command("service", "run one service alone (containers, scale-out)", [data, server], cmd_service)
    one.add_argument("service", choices=["ingest", "identity", "analytics"], help="which service")
    ing = command("ingest", "send a manifest to running services and follow the job", [ingest_client], cmd_ingest)
    ing.add_argument("manifest", help=manifest)
    ing.add_argument("--detach", action="store_true",
                     help="submit the job and exit; print its id alone on the last line (follow it: `jobs JOB`)")
    jobs = command("jobs", "list the ingest jobs of running services, or follow one (JOB)", [ingest_client], cmd_jobs)
    jobs.add_argument("job", nargs="?", help="a job id: follow its progress until it ends")
    cancel = command("cancel", "cancel an ingest job (videos in flight finish; the batch reconciles)",
                     [ingest_client], cmd_cancel)
    cancel.add_argument("job", help="the job id (see `influencers jobs`)")
    exp = command("export", "write the report (CSV and JSON) from a data dir, as it is now", [data], cmd_export)
    exp.add_argument("--out", required=True, help="folder to write the report's files in")
    ev = command("eval", "score a data dir against a labelled corpus (truth.csv)", [data], cmd_eval)
    ev.add_argument("--truth", required=True, help="corpus folder holding truth.csv")
    command("recluster", "re-derive all influencers from the stored faces", [identity_client], cmd_identity)
    merge = command("merge", "merge influencers into one: the one in the most videos, unless --into says",
                    [identity_client], cmd_identity)
    merge.add_argument("ids", nargs="+", metavar="INFLUENCER", help=person + "; two or more")
    merge.add_argument("--into", metavar="INFLUENCER", help="the one to keep (default: the one in the most "
                       "videos; on a tie the named one), as the page's merge")
    split = command("split", "move an influencer's faces in some videos to a new influencer",
                    [identity_client], cmd_identity)
    split.add_argument("id", metavar="INFLUENCER", help=person)
    split.add_argument("videos", nargs="+", metavar="VIDEO_ID", help="content ids of the videos to split off")
    rename = command("rename", "give an influencer a display name", [identity_client], cmd_identity)
    rename.add_argument("id", metavar="INFLUENCER", help=person)
    rename.add_argument("name", help="the new name (\"\" clears it)")
    enrol = command("enrol", "name a known person from reference photos (never counted as appearances)",
                    [identity_client], cmd_correct)
    enrol.add_argument("name", help="the person's name")
    enrol.add_argument("photos", nargs="+", metavar="PHOTO", help="JPEG or PNG files, one face each")
    move = command("move", "move one video's appearance of an influencer to another (or a new one)",
                   [identity_client], cmd_correct)
    move.add_argument("video_id", metavar="VIDEO_ID", help="the video's content id (see the video page)")
    move.add_argument("id", metavar="INFLUENCER", help=person + ": whose appearance it is now")
    move.add_argument("target", nargs="?", metavar="TARGET", help="the influencer it goes to (default: a new one)")
    hide = command("hide", "mark an influencer 'not an influencer' (kept, left out of statistics)",
                   [identity_client], cmd_correct)
    hide.add_argument("id", metavar="INFLUENCER", help=person)
    unhide = command("unhide", "count a hidden influencer again", [identity_client], cmd_correct)
    unhide.add_argument("id", metavar="INFLUENCER", help=person)
    delete = command("delete", "erase a person: faces, crops, name and appearances (audited)",
                     [identity_client], cmd_correct)
    delete.add_argument("id", metavar="INFLUENCER", help=person)
    undo = command("undo", "revert a correction by its audit id (printed by the correction, and on /audit)",
                   [identity_client], cmd_correct)
    undo.add_argument("audit_id", metavar="AUDIT_ID", help="the correction's audit id (32 hex digits)")
    review = command("review", "list the 'same person?' queue, most likely first, with the probability that the "
                     "two are one person", [identity_client], cmd_correct)
    review.add_argument("--all", action="store_true", help="also the pairs under the probability floor")
    answer = command("answer", "answer a review item: same (merge), different (keep apart) or skip",
                     [identity_client], cmd_correct)
    answer.add_argument("a", metavar="A", help=person)
    answer.add_argument("b", metavar="B", help=person)
    answer.add_argument("answer", choices=tuple(REVIEW_ANSWERS), help="same, different or skip")
    return p


class _Terminated(Exception):
    """SIGTERM arrived: unwinds like Ctrl-C, so that every `finally` stops its services and workers."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _check_inputs(args: argparse.Namespace) -> None:
    """Fails fast, before anything starts, on what would otherwise fail minutes later: the settings (every
    variable and flag, typed and range-checked), the manifest (readable, with its two columns), the data
    dir (a folder this process can write), the TLS files and the ports this command binds."""
    settings = settings_from_args(args)
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
def _owning_data_dir(args: argparse.Namespace) -> Iterator[None]:
    """Holds the data dir's lock for commands that open its stores in this process."""
    owns = args.command in _OWNS_DATA_DIR or (
        args.command == "service" and args.service in _OWNS_DATA_DIR_SERVICES)
    if not owns:
        yield
        return
    with data_dir_lock(settings_from_args(args).data_dir):
        yield


def main(argv: list[str] | None = None) -> int:
    """Entry point of `influencers` and `python -m influencers`. Exit codes: 0 done; 1 some row failed, or a
    service could not be reached or failed a call; 2 usage or configuration error (a bad setting or path,
    an unusable data dir, an unknown id or bad value refused by a service); 130 a job interrupted (Ctrl-C or
    SIGTERM; services being served stop with 0). Every error is one line on stderr, `influencers: error: ...`,
    never a traceback."""
    configure_cli_logging()
    args = build_parser().parse_args(argv)
    configure_cli_logging(args.command)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _check_inputs(args)
        tracing.setup_tracing(_traced_services(args))
        with _owning_data_dir(args):
            return int(args.func(args) or 0)
    except (SettingsError, ManifestError, DataDirBusy, DataDirUnusable, PortInUse, MetricsPortInUse, StoreDamaged,
            DiskFull) as exc:
        return usage_error(str(exc))
    except NameLookupError as exc:
        return usage_error(f"{args.command}: {brief(escaped(str(exc)), 2000)}")
    except grpc.RpcError as exc:
        return service_error(args.command, exc)
    except (ServiceUnavailable, TimeoutError) as exc:  # TimeoutError: a job's progress lost, a deadline
        print(f"influencers: error: {args.command}: {cut(escaped(str(exc)))}", file=sys.stderr)
        return SERVICE_ERROR
    except OSError as exc:  # a folder or file given (data dir, --out, --report) that cannot be used
        return os_error(args.command, exc)
    except (sqlite3.DatabaseError, sa_exc.DBAPIError) as exc:  # the analytics store: not a database, a folder
        logging.getLogger(__name__).debug("store error", exc_info=True)
        return usage_error(f"{args.command}: the analytics store in data dir "
                           f"{cut(str(settings_from_args(args).data_dir))} cannot be used "
                           f"({cut(escaped(db_error(exc)))})")
    except (KeyboardInterrupt, _Terminated):
        print("interrupted: what was recorded is kept; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        tracing.shutdown_tracing()  # the spans still queued are sent before the process ends


def _traced_services(args: argparse.Namespace) -> list[str]:
    """The services this command runs in this process (each traced under its own name while tracing is on)."""
    if args.command in ("run", "serve"):
        return list(tracing.SERVICES)
    return [args.service] if args.command == "service" else []

