"""The overview is a read of analytics: identity's review queue only adds how many "same person?" pairs name
each influencer, and says "unknown" when identity cannot tell. An identity that accepts the call and never
answers (all its threads busy, stopped) must not hold the overview for the page's whole RPC deadline."""

from __future__ import annotations

import threading
import time

import grpc

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.identity_calls import GrpcCorrections
from services.common.clients import GrpcIdentity
from tests.support.rpc_errors import FakeRpcError


class HungStub:
    """Identity's stub whose ListReviewItems never answers: it fails when the caller's deadline passes, as gRPC
    does (capped at 60 s, so that a test of the old behaviour ends)."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def ListReviewItems(self, request, timeout: float):  # noqa: ANN001, ANN201, N802
        self.released.wait(min(timeout, 60))
        raise FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")


def test_an_identity_that_never_answers_holds_the_overview_a_few_seconds_not_the_rpc_deadline(
        analytics_store: AnalyticsStore) -> None:
    """Was: up to rpc_timeout_s (600 s by default) for every overview, one after the other behind the counts'
    lock: eight analysts opening it took all of the page's threads."""
    stub = HungStub()
    corrections = GrpcCorrections(GrpcIdentity(stub, timeout_s=600), lambda position: True)  # type: ignore[arg-type]
    client = create_app(analytics_store, corrections=corrections).test_client()
    started = time.monotonic()
    answer = client.get("/")
    stub.released.set()
    assert answer.status_code == 200
    assert time.monotonic() - started < 10
