"""The HTTP server of the metrics endpoint: prometheus_client's own (a thread for each connection) with a bound on
both. Its connections had no timeout and no limit: each one that sent nothing held a thread for good, in the very
process of the services (ingest, identity, or all of `run`), and a client opening thousands (no token guards the
metrics port) took the process toward its limit of threads. A request head must be whole within HEAD_S of the
connection (one watcher thread closes those that are not): the silence limit alone let a byte every few seconds
keep a connection, and 16 such connections kept every scrape out."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY
from prometheus_client.exposition import make_wsgi_app

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16  # at once (a scraper opens one); past them a connection is closed as it is accepted
IDLE_S = 10.0  # seconds a connection may send nothing before it is closed, freeing its thread
_Request = socket.socket | tuple[bytes, socket.socket]  # what socketserver hands a request over as (typeshed's)
HEAD_S = 5.0  # seconds from a connection's start by which its request head must be whole (a scraper's: at once)


class HeadDeadlines:
    """Closes each watched connection whose request head is not whole `head_s` seconds after it was watched, from
    one thread of its own (a timer a connection would double the threads) until `stop()`."""

    def __init__(self, head_s: float) -> None:
        self.head_s = head_s
        self._lock = threading.Lock()
        self._due: dict[socket.socket, float] = {}
        self._expired: set[socket.socket] = set()
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="metrics-heads", daemon=True).start()

    def watch(self, conn: socket.socket) -> None:
        with self._lock:
            self._due[conn] = time.monotonic() + self.head_s

    def done(self, conn: socket.socket) -> bool:
        """Stops watching `conn`; True when it was closed for a head not whole in time."""
        with self._lock:
            self._due.pop(conn, None)
            if conn in self._expired:
                self._expired.discard(conn)
                return True
            return False

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(min(0.5, self.head_s / 4)):
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, due in self._due.items() if due <= now]
                for conn in late:
                    del self._due[conn]
                    self._expired.add(conn)
            for conn in late:  # the handler's read returns at once, its thread ends
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(WSGIRequestHandler):
    timeout = IDLE_S  # of each read: socketserver applies it to the connection's socket
    server: _BoundedServer

    def setup(self) -> None:
        super().setup()
        self.server.heads.watch(self.connection)

    def parse_request(self) -> bool:
        """Reads the head; False (nothing answered) when its deadline closed the connection meanwhile."""
        try:
            whole = super().parse_request()
        finally:
            late = self.server.heads.done(self.connection)
        return whole and not late

    def finish(self) -> None:
        self.server.heads.done(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Logs nothing: a scrape every 15 s would fill the log."""


class _BoundedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 64  # the listen backlog (socketserver's 5 dropped connections under a burst)
    slots: threading.BoundedSemaphore
    heads: HeadDeadlines

    def server_close(self) -> None:
        super().server_close()
        self.heads.stop()

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
                       idle_s: float = IDLE_S, head_s: float = HEAD_S) -> tuple[WSGIServer, threading.Thread]:
    """Serves the default registry on host:port (0: a free port) from a daemon thread: at most `max_connections`
    at once, each closed after `idle_s` seconds of silence, or when its request head is not whole `head_s` seconds
    after it was accepted. OSError when the port cannot be bound."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    server_class = type("MetricsServer", (_BoundedServer,), {"address_family": family,
                                                            "slots": threading.BoundedSemaphore(max_connections),
                                                            "heads": HeadDeadlines(head_s)})
    handler = type("MetricsHandler", (_Handler,), {"timeout": idle_s})
    try:
        httpd = make_server(address[0], port, make_wsgi_app(REGISTRY), server_class, handler_class=handler)
    except BaseException:
        server_class.heads.stop()
        raise
    thread = threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True)
    thread.start()
    return httpd, thread
