"""The corrections the report page makes: calls of the identity service, each answer applied to analytics
through the batch protocol exactly as the CLI applies its own (services.ingest.batch.apply_page over the
identity and analytics ports).

`Corrections` is the port the routes use; `GrpcCorrections` its adapter over the CLI's own gRPC adapters of
the two services (analytics included: the page writes through the same service the CLI and ingest use, so
labels, crops and names follow one path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import grpc

from influencers.settings import Settings
from influencers.v1 import identity_pb2
from services.ingest import batch, batch_grpc
from services.ingest.batch_grpc import GrpcIdentity

ANSWERS = batch_grpc.REVIEW_ANSWERS


class Corrections(Protocol):
    """Each write returns what analytics applied (batch.Applied); identity's refusals raise grpc.RpcError."""

    def rename(self, influencer_id: str, name: str) -> batch.Applied: ...

    def merge(self, influencer_ids: Sequence[str]) -> batch.Applied:
        """Every influencer listed is merged into the first."""

    def move(self, video_id: str, influencer_id: str, target_id: str) -> batch.Applied:
        """One video's appearance of `influencer_id` goes to `target_id` ("" = a new influencer)."""

    def hide(self, influencer_id: str, hidden: bool) -> batch.Applied: ...

    def delete(self, influencer_id: str) -> batch.Applied: ...

    def enrol(self, name: str, photos: Sequence[bytes]) -> identity_pb2.EnrolInfluencerResponse: ...

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]: ...

    def answer(self, influencer_a: str, influencer_b: str, answer: str) -> batch.Applied:
        """`answer` is a key of ANSWERS."""


class GrpcCorrections:
    """Corrections over the identity service's port (GrpcIdentity, the CLI's own adapter) and analytics'
    batch port; `timeout_s` per call."""

    def __init__(self, identity: GrpcIdentity, analytics: batch.AnalyticsPort) -> None:
        self._identity = identity
        self._analytics = analytics

    def _apply(self, page: identity_pb2.Changes) -> batch.Applied:
        return batch.apply_page(self._identity, self._analytics, page)

    def rename(self, influencer_id: str, name: str) -> batch.Applied:
        return self._apply(self._identity.rename(influencer_id, name))

    def merge(self, influencer_ids: Sequence[str]) -> batch.Applied:
        return self._apply(self._identity.merge(influencer_ids))

    def move(self, video_id: str, influencer_id: str, target_id: str) -> batch.Applied:
        return self._apply(self._identity.move(video_id, influencer_id, target_id))

    def hide(self, influencer_id: str, hidden: bool) -> batch.Applied:
        return self._apply(self._identity.hide(influencer_id, hidden))

    def delete(self, influencer_id: str) -> batch.Applied:
        return self._apply(self._identity.delete(influencer_id))

    def enrol(self, name: str, photos: Sequence[bytes]) -> identity_pb2.EnrolInfluencerResponse:
        reply = self._identity.enrol(name, photos)
        self._apply(reply.changes)
        return reply

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]:
        return self._identity.review(limit)

    def answer(self, influencer_a: str, influencer_b: str, answer: str) -> batch.Applied:
        return self._apply(self._identity.answer(influencer_a, influencer_b, ANSWERS[answer]))


def connect(settings: Settings) -> GrpcCorrections:
    """Corrections through the identity service at settings.identity_target and analytics at
    settings.analytics_target (channels connect lazily: the page starts before identity answers). Analytics
    bound on every interface (a container) is reached over loopback."""
    analytics_target = settings.analytics_target
    if not settings.analytics_addr and settings.host in ("0.0.0.0", "::", "[::]"):
        analytics_target = f"127.0.0.1:{settings.analytics_port}"
    return GrpcCorrections(*batch_grpc.connect(settings, analytics_target))


# Status of the page's answer when identity refuses a correction (anything else: 502, the message shown).
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
