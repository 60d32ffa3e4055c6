"""The three services started in one process on loopback with the embedded stores (Qdrant Edge,
SQLite): what `influencers run` and `influencers serve` use, and what the integration tests start."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import waitress
from flask import Flask
from waitress import wasyncore

from influencers.page_bodies import bounded
from influencers.page_connections import MAX_CONNECTIONS, capped
from influencers.server_errors import page_channel
from influencers.startcheck import compare_views
from services.analytics.feed import WOKEN_IDLE_S, FollowerThread
from services.analytics.feed_grpc import start_follower
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.identity_calls import connect
from services.common.rpc import PortInUse, is_loopback
from services.common.settings import Settings, host_port
from services.common.starting import StartingHealth
from services.common.tls import server_credentials
from services.identity.facestore import FaceStore
from services.identity.process import IdentityProcess
from services.ingest.server import IngestProcess

log = logging.getLogger(__name__)


@dataclass
class Stack:
    settings: Settings  # with the bound ports filled in
    store: AnalyticsStore
    analytics: object
    identity: IdentityProcess
    ingest: IngestProcess
    web: WebServer | None
    follower: FollowerThread | None = None

    @property
    def web_url(self) -> str:
        assert self.web is not None
        return f"http://{host_port(self.settings.host, self.web.port)}/"

    def stop(self) -> None:
        if self.web is not None:
            self.web.shutdown()
        self.ingest.stop()
        if self.follower is not None:
            self.follower.stop()
        self.identity.stop()
        self.analytics.stop()  # type: ignore[attr-defined]
        self.store.close()


# Seconds the page's sent bytes may wait for the reader (unacknowledged, or its window shut) before the kernel
# drops the connection (TCP_USER_TIMEOUT, Linux). A video player paused, or a reader that stopped, held its server
# thread and its media stream (web/media.py) for good: waitress's 120 s channel timeout spares a channel with a
# request in flight. A player that resumes later asks for its range again.
SEND_TIMEOUT_S = 60.0


class WebServer:
    """The report page served by waitress (a production WSGI server) on a thread of its own. `port` is the
    bound port (port 0 picks a free one); `shutdown()` stops it and waits for the thread. `send_timeout_s`: see
    SEND_TIMEOUT_S."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 8,
                 send_timeout_s: float = SEND_TIMEOUT_S) -> None:
        self.app = app
        # A body over the page's own limit (MAX_CONTENT_LENGTH; less on every path but the enrol form's, and uploads
        # at once are few: page_bodies) is refused by its Content-Length, before it is read: waitress read up to
        # 1 GB of any POST (sign-in's too) into a temporary file before the page's 413.
        self._server = waitress.create_server(app, host=host, port=port, threads=threads,
                                              clear_untrusted_proxy_headers=True, connection_limit=MAX_CONNECTIONS,
                                              max_request_body_size=app.config.get("MAX_CONTENT_LENGTH") or 2**30)
        # What waitress refuses itself (a request line it cannot read) answers with the site's page too; one
        # client's connections past MAX_PER_CLIENT are closed (page_connections).
        self._server.channel_class = capped(bounded(page_channel(app)))  # type: ignore[union-attr]
        # Set on the listening socket, which each accepted connection inherits it from (waitress's own
        # socket_options is no setting create_server takes).
        user_timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
        if user_timeout is not None:
            self._server.socket.setsockopt(socket.IPPROTO_TCP, user_timeout, int(send_timeout_s * 1000))
        self.port = int(self._server.effective_port)  # type: ignore[union-attr]  # waitress gives a str
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Lets requests in flight end (up to `timeout_s`; later ones are cancelled), then closes the
        listening socket and every connection on the server's own loop thread (closing them from this
        thread would race its select(), and a worker still finishing would wake a closed trigger)."""
        server = self._server
        server.task_dispatcher.shutdown(timeout=timeout_s)
        closed = threading.Event()

        def close_all() -> None:
            wasyncore.close_all(server._map)  # type: ignore[union-attr]
            closed.set()

        try:
            server.trigger.pull_trigger(close_all)  # type: ignore[union-attr]
        except OSError:
            # The loop, woken already (a response just sent), ran close_all between the thunk's queueing and
            # the wake-up byte: the trigger it was to write to is closed. Anything else is a real failure.
            if not closed.wait(timeout_s):
                raise
        self._thread.join(timeout_s)


def start_web(settings: Settings, store: AnalyticsStore) -> WebServer:
    """Serves the report page on settings.host:settings.web_port, with the correction forms writing through
    the identity service (settings.identity_target) and waiting for `store` to apply them."""
    if not settings.token and not is_loopback(settings.host):
        raise ValueError(f"the report page on {settings.host} (beyond loopback) needs INFLUENCERS_TOKEN")
    app = create_app(store, {"TOKEN": settings.token, "HOST": settings.host, "ALLOWED_ROOT": settings.allowed_root,
                             "ALLOWED_HOSTS": settings.allowed_host_names,
                             "SESSION_LIFETIME_S": settings.session_lifetime_s,
                             "SESSION_SECRET": settings.session_secret},
                     corrections=connect(settings, store.feed_position))
    try:
        server = WebServer(app, settings.host, settings.web_port)
    except OSError as exc:
        raise PortInUse(f"report page: cannot bind {settings.host}:{settings.web_port} ({exc.strerror or exc})") \
            from exc
    log.info("report page on http://%s/", host_port(settings.host, server.port))
    return server


def start_stack(settings: Settings, web: bool = True, face_store: FaceStore | None = None) -> Stack:
    """Starts analytics, identity and ingest (in that order: each needs the one before). Ports of 0 are
    bound to free ports, and the returned settings carry the real ones. `face_store` replaces the store the
    settings name (tests of several identity replicas on one server)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # From the first moment, each service's port answers health as `influencers service NAME` does (liveness
    # SERVING, readiness NOT_SERVING) while the stores are opened and migrated, each handed over to the service's
    # own server as it starts. Was: nothing answered until every store had migrated (a probe saw a dead process).
    credentials = server_credentials(settings)
    starting = {name: StartingHealth(name, settings.host, port, credentials) for name, port in (
        ("analytics", settings.analytics_port), ("identity", settings.identity_port), ("ingest", settings.ingest_port))}
    # What has started, stopped in reverse when a later part cannot start (a damaged store, a full disk, a port
    # in use): left running, its servers took calls while the interpreter shut down, and printed tracebacks.
    started: list[Callable[[], object]] = []
    try:
        store = AnalyticsStore.open(settings)
        started.append(store.close)
        following: list[FollowerThread] = []
        starting["analytics"].handover()
        analytics = serve_analytics(settings, store, lambda: following[0].follower.head if following else 0)
        started.append(lambda: analytics.stop(0))
        settings = settings.replace(analytics_port=analytics.port,
                                    analytics_addr=host_port(settings.host, analytics.port))
        identity = IdentityProcess(settings, face_store, starting=starting["identity"])
        started.append(lambda: identity.stop(0))
        compare_views(identity.store, identity.feed.head(), store)
        settings = settings.replace(identity_port=identity.port, identity_addr=host_port(settings.host, identity.port))
        # Identity's feed is in this process: each append wakes the follower, which polls only as a fallback.
        following.append(start_follower(settings, store, WOKEN_IDLE_S))
        identity.feed.on_append.append(following[0].wake)
        started.append(following[0].stop)
        ingest = IngestProcess(settings, starting=starting["ingest"])
        started.append(ingest.stop)
        settings = settings.replace(ingest_port=ingest.port)
        web_server = start_web(settings, store) if web else None
    except BaseException:
        for stop in reversed(started):
            stop()
        raise
    finally:
        for health in starting.values():
            health.handover()
    if web_server is not None:
        settings = settings.replace(web_port=web_server.port)
    return Stack(settings, store, analytics, identity, ingest, web_server, following[0])
