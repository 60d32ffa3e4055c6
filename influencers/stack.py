"""The three services started in one process on loopback with the embedded stores (Qdrant local mode,
SQLite): what `influencers run` and `influencers serve` use, and what the integration tests start."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, make_server

from influencers.rpc import is_loopback
from influencers.settings import Settings
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.identity.facestore import FaceStore
from services.identity.server import IdentityProcess
from services.ingest.server import IngestProcess

log = logging.getLogger(__name__)


@dataclass
class Stack:
    settings: Settings  # with the bound ports filled in
    store: AnalyticsStore
    analytics: object
    identity: IdentityProcess
    ingest: IngestProcess
    web: BaseWSGIServer | None

    @property
    def web_url(self) -> str:
        assert self.web is not None
        return f"http://{self.settings.host}:{self.web.server_port}/"

    def stop(self) -> None:
        if self.web is not None:
            self.web.shutdown()
        self.ingest.stop()
        self.identity.stop()
        self.analytics.stop()  # type: ignore[attr-defined]
        self.store.close()


def start_web(settings: Settings, store: AnalyticsStore) -> BaseWSGIServer:
    if not settings.token and not is_loopback(settings.host):
        raise ValueError(f"the report page on {settings.host} (beyond loopback) needs INFLUENCERS_TOKEN")
    app = create_app(store, {"TOKEN": settings.token})
    server = make_server(settings.host, settings.web_port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    log.info("report page on http://%s:%d/", settings.host, server.server_port)
    return server


def start_stack(settings: Settings, web: bool = True, face_store: FaceStore | None = None) -> Stack:
    """Starts analytics, identity and ingest (in that order: each needs the one before). Ports of 0 are
    bound to free ports, and the returned settings carry the real ones. `face_store` replaces the store the
    settings name (tests of several identity replicas on one server)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = AnalyticsStore(settings.data_dir / "analytics.sqlite3")
    analytics = serve_analytics(settings, store)
    settings = settings.replace(analytics_port=analytics.port, analytics_addr=f"{settings.host}:{analytics.port}")
    identity = IdentityProcess(settings, face_store)
    settings = settings.replace(identity_port=identity.port, identity_addr=f"{settings.host}:{identity.port}")
    ingest = IngestProcess(settings)
    settings = settings.replace(ingest_port=ingest.port)
    web_server = start_web(settings, store) if web else None
    if web_server is not None:
        settings = settings.replace(web_port=web_server.server_port)
    return Stack(settings, store, analytics, identity, ingest, web_server)
