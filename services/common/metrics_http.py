"""The HTTP server of the metrics endpoint: prometheus_client's own (a thread for each connection) with a bound on
both. Its connections had no timeout and no limit: each one that sent nothing held a thread for good, in the very
process of the services (ingest, identity, or all of `run`), and a client opening thousands (no token guards the
metrics port) took the process toward its limit of threads."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY
from prometheus_client.exposition import make_wsgi_app

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16  # at once (a scraper opens one); past them a connection is closed as it is accepted
IDLE_S = 10.0  # seconds a connection may send nothing before it is closed, freeing its thread
_Request = socket.socket | tuple[bytes, socket.socket]  # what socketserver hands a request over as (typeshed's)


class _Handler(WSGIRequestHandler):
    timeout = IDLE_S  # of each read: socketserver applies it to the connection's socket

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Logs nothing: a scrape every 15 s would fill the log."""


class _BoundedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 64  # the listen backlog (socketserver's 5 dropped connections under a burst)
    slots: threading.BoundedSemaphore

    def process_request(self, request: _Request, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def handle_error(self, request: _Request, client_address: Any) -> None:
        """A connection closed for its silence (IDLE_S), or by its client, is no error: it goes without a word.
        socketserver printed each as a raw 15-line traceback on stderr, between the JSON records, once per idle
        socket anyone opened to the port. Anything else is one log record."""
        exc = sys.exc_info()[1]
        if isinstance(exc, TimeoutError | ConnectionError):
            return
        log.error("metrics endpoint: a request from %s failed", client_address, exc_info=exc)

    def process_request_thread(self, request: _Request, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve_metrics_http(host: str, port: int, max_connections: int = MAX_CONNECTIONS,
                       idle_s: float = IDLE_S) -> tuple[WSGIServer, threading.Thread]:
    """Serves the default registry on host:port (0: a free port) from a daemon thread: at most `max_connections`
    at once, each closed after `idle_s` seconds of silence. OSError when the port cannot be bound."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    server_class = type("MetricsServer", (_BoundedServer,), {"address_family": family,
                                                            "slots": threading.BoundedSemaphore(max_connections)})
    handler = type("MetricsHandler", (_Handler,), {"timeout": idle_s})
    httpd = make_server(address[0], port, make_wsgi_app(REGISTRY), server_class, handler_class=handler)
    thread = threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True)
    thread.start()
    return httpd, thread
