"""The commands that start services in this process (run, serve, service) and wait for Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from influencers.cli.config import failed_rows_said_by_the_bar, served_metrics, settings_from_args
from influencers.cli.jobs import run_ingest
from influencers.cli.output import LOGGER
from services.common.name_text import for_terminal

if TYPE_CHECKING:
    from services.common.settings import Settings
    from services.common.starting import StartingHealth


def cmd_run(args: argparse.Namespace) -> int:
    from influencers.stack import start_stack
    from services.analytics.export import export_report

    settings = settings_from_args(args)
    with served_metrics(settings) as metrics:
        stack = start_stack(settings, web=not args.no_serve)
        try:
            with failed_rows_said_by_the_bar(settings):
                code = run_ingest(stack.settings, args.manifest_request, detach=False, earlier_first=True)
            out = Path(args.report or settings.data_dir / "report")
            export_report(stack.store, out, settings.allowed_root)
            print(f"report written to {for_terminal(str(out))}/")
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
        print(f"ingest {s.ingest_target}  identity {s.identity_target}  analytics {s.analytics_target}  "
              f"page {stack.web_url}" + (f"  metrics {metrics.url}" if metrics else ""), flush=True)
        log = logging.getLogger(LOGGER)
        try:
            log.info("stopping on %s (work in flight finishes first)", _wait_for_signal())
        finally:
            stack.stop()
            log.info("stopped")
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    """One service alone, as a container runs it; the others are found at the *_ADDR settings. From the first
    moment its port answers health (readiness NOT_SERVING) while its stores are opened and migrated."""
    from services.common.starting import StartingHealth
    from services.common.tls import server_credentials

    settings = settings_from_args(args)
    port = {"ingest": settings.ingest_port, "identity": settings.identity_port,
            "analytics": settings.analytics_port}[args.service]
    log = logging.getLogger(LOGGER)
    # Metrics from the first moment to the last: a migration of minutes, and a stop's drain, are a process that
    # answers its scrapes with influencers_ready 0, not one down (InfluencersDown paged during a long migration).
    with served_metrics(settings):
        starting = StartingHealth(args.service, settings.host, port, server_credentials(settings))
        try:
            stoppers = _start_service(args.service, settings, starting)
        finally:
            starting.handover()
        try:
            log.info("%s stopping on %s (work in flight finishes first)", args.service, _wait_for_signal())
        finally:
            for stop in stoppers:
                stop()
            log.info("%s stopped", args.service)
    return 0


def _start_service(service: str, settings: Settings, starting: StartingHealth) -> list[Callable[[], None]]:
    """Opens `service`'s stores (migrating them) and starts its server; returns what stops it, in order."""
    if service == "analytics":
        from influencers.stack import start_web
        from services.analytics.feed_grpc import start_follower
        from services.analytics.server import serve_analytics
        from services.analytics.store import AnalyticsStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = AnalyticsStore.open(settings)
        follower = start_follower(settings, store)
        starting.handover()
        server = serve_analytics(settings, store, lambda: follower.follower.head)
        web = start_web(settings, store)
        return [web.shutdown, server.stop, follower.stop, store.close]
    if service == "identity":
        from services.identity.process import IdentityProcess

        return [IdentityProcess(settings, starting=starting).stop]
    from services.ingest.server import IngestProcess

    return [IngestProcess(settings, starting=starting).stop]


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
