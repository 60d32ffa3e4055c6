"""Identity and analytics servers on loopback, analytics following identity's feed (no ingest, no page)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from services.analytics.feed_grpc import start_follower
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.settings import Settings
from services.identity.process import IdentityProcess


@contextmanager
def identity_and_analytics(settings: Settings) -> Iterator[SimpleNamespace]:
    """Yields (store, identity, settings with the bound ports); stops everything after."""
    settings.data_dir.mkdir(parents=True)
    store = AnalyticsStore(settings.data_dir / "analytics.sqlite3")
    analytics = serve_analytics(settings, store)
    identity = IdentityProcess(settings)
    settings = settings.replace(identity_port=identity.port, analytics_port=analytics.port)
    follower = start_follower(settings.replace(identity_addr=f"127.0.0.1:{identity.port}"), store)
    try:
        yield SimpleNamespace(store=store, identity=identity, settings=settings)
    finally:
        follower.stop()
        identity.stop(1.0)
        analytics.stop(1.0)
        store.close()
