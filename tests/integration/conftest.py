import functools
import http.server
import threading
from pathlib import Path

import pytest

from influencers.stack import start_stack
from services.common.settings import Settings
from services.identity.assignment import Thresholds
from services.identity.crops import CropStore
from services.identity.edge_store import EdgeFaceStore
from services.identity.registry import IdentityRegistry

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


@pytest.fixture
def corpus():
    """corpus(name) -> the folder of ../shared/corpus/<name>; skips the test when it is absent."""

    def find(name: str) -> Path:
        path = CORPUS / name
        if not (path / "manifest.csv").is_file():
            pytest.skip(f"corpus {path} not present")
        return path

    return find


@pytest.fixture
def settings(tmp_path):
    """Every port free (0), the stores in a temp dir, loopback URLs allowed (the test HTTP server)."""
    return Settings(data_dir=tmp_path / "data", ingest_port=0, identity_port=0, analytics_port=0, web_port=0,
                    allow_private_urls=True, workers=2)


@pytest.fixture
def stack(settings):
    running = start_stack(settings, web=True)
    yield running
    running.stop()


@pytest.fixture
def http_servers():
    """Starts HTTP servers on loopback, each in a thread of its own: a function (request handler class) -> the
    server; they are shut down and closed after the test."""
    servers = []

    def start(handler) -> http.server.ThreadingHTTPServer:  # type: ignore[no-untyped-def]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def http_server(http_servers):
    """Serves a folder over HTTP on loopback; returns a function (folder, headers added to every answer)
    -> base URL."""

    def serve(folder: Path, headers: dict[str, str] | None = None) -> str:
        quiet = type("Handler", (_QuietHandler,), {"extra_headers": headers or {}})
        server = http_servers(functools.partial(quiet, directory=str(folder)))
        return f"http://127.0.0.1:{server.server_port}"

    return serve


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extra_headers: dict[str, str] = {}  # noqa: RUF012 - set per server by a subclass, never mutated

    def end_headers(self) -> None:
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture
def registry(tmp_path):
    """An identity registry on the real Qdrant engine (Edge, on disk), with the product's thresholds."""
    store = EdgeFaceStore(tmp_path / "q")
    yield IdentityRegistry(store, CropStore(store), Thresholds(match=0.55, margin=0.04, cluster=0.62))
    store.close()


@pytest.fixture
def spans():
    """Tracing on for the three services, every span kept in memory (exported as it ends)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import tracing

    exporter = InMemorySpanExporter()
    tracing.install(tracing.SERVICES, exporter, batch=False)
    yield exporter
    tracing.shutdown_tracing()
