"""The corrections the report page makes: calls of the identity service, each answer applied to analytics
through the batch protocol exactly as the CLI applies its own (services.ingest.batch.apply_page over the
identity and analytics ports).

`Corrections` is the port the routes use; `GrpcCorrections` its adapter over the two gRPC services
(analytics included: the page writes through the same service the CLI and ingest use, so labels, crops
and names follow one path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import grpc

from influencers.rpc import open_channel
from influencers.settings import Settings
from influencers.v1 import analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.ingest import batch
from services.ingest.batch_grpc import GrpcAnalytics, GrpcIdentity

ANSWERS = {"same": identity_pb2.REVIEW_ANSWER_SAME, "different": identity_pb2.REVIEW_ANSWER_DIFFERENT,
           "skip": identity_pb2.REVIEW_ANSWER_SKIP}


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

    def hidden_influencers(self) -> list[identity_pb2.Influencer]: ...


class GrpcCorrections:
    """Corrections over an IdentityService stub and analytics' batch port; `timeout_s` per call."""

    def __init__(self, identity: identity_pb2_grpc.IdentityServiceStub, analytics: batch.AnalyticsPort,
                 timeout_s: float) -> None:
        self._stub = identity
        self._port = GrpcIdentity(identity, timeout_s)
        self._analytics = analytics
        self._timeout = timeout_s

    def _apply(self, page: identity_pb2.ReclusterResponse) -> batch.Applied:
        return batch.apply_page(self._port, self._analytics, page)

    def rename(self, influencer_id: str, name: str) -> batch.Applied:
        reply = self._stub.RenameInfluencer(identity_pb2.RenameInfluencerRequest(influencer_id=influencer_id,
                                                                                 name=name), timeout=self._timeout)
        # The label carries an empty name too (it clears the name); hidden stays as identity has it.
        label = common_pb2.InfluencerLabel(influencer_id=influencer_id, name=reply.name, hidden=reply.hidden)
        names = {influencer_id: reply.name} if reply.name else {}
        return self._apply(identity_pb2.ReclusterResponse(names=names, labels=[label]))

    def merge(self, influencer_ids: Sequence[str]) -> batch.Applied:
        return self._apply(self._stub.MergeInfluencers(
            identity_pb2.MergeInfluencersRequest(influencer_ids=list(influencer_ids)), timeout=self._timeout))

    def move(self, video_id: str, influencer_id: str, target_id: str) -> batch.Applied:
        return self._apply(self._stub.MoveAppearance(identity_pb2.MoveAppearanceRequest(
            video_id=video_id, influencer_id=influencer_id, target_influencer_id=target_id), timeout=self._timeout))

    def hide(self, influencer_id: str, hidden: bool) -> batch.Applied:
        return self._apply(self._stub.HideInfluencer(
            identity_pb2.HideInfluencerRequest(influencer_id=influencer_id, hidden=hidden), timeout=self._timeout))

    def delete(self, influencer_id: str) -> batch.Applied:
        return self._apply(self._stub.DeleteInfluencer(
            identity_pb2.DeleteInfluencerRequest(influencer_id=influencer_id), timeout=self._timeout))

    def enrol(self, name: str, photos: Sequence[bytes]) -> identity_pb2.EnrolInfluencerResponse:
        reply = self._stub.EnrolInfluencer(identity_pb2.EnrolInfluencerRequest(name=name, photos=list(photos)),
                                           timeout=self._timeout)
        self._apply(reply.changes)
        return reply

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]:
        reply = self._stub.ListReviewItems(identity_pb2.ListReviewItemsRequest(page_size=limit),
                                           timeout=self._timeout)
        return list(reply.items)

    def answer(self, influencer_a: str, influencer_b: str, answer: str) -> batch.Applied:
        return self._apply(self._stub.AnswerReviewItem(identity_pb2.AnswerReviewItemRequest(
            influencer_a=influencer_a, influencer_b=influencer_b, answer=ANSWERS[answer]), timeout=self._timeout))

    def hidden_influencers(self) -> list[identity_pb2.Influencer]:
        hidden, token = [], ""
        while True:
            reply = self._stub.ListInfluencers(identity_pb2.ListInfluencersRequest(page_token=token),
                                               timeout=self._timeout)
            hidden += [i for i in reply.influencers if i.hidden]
            token = reply.next_page_token
            if not token:
                return hidden


def connect(settings: Settings) -> GrpcCorrections:
    """Corrections through the identity service at settings.identity_target and analytics at
    settings.analytics_target (channels connect lazily: the page starts before identity answers). Analytics
    bound on every interface (a container) is reached over loopback."""
    identity = identity_pb2_grpc.IdentityServiceStub(open_channel(settings.identity_target, settings.token))
    analytics_target = settings.analytics_target
    if not settings.analytics_addr and settings.host in ("0.0.0.0", "::", "[::]"):
        analytics_target = f"127.0.0.1:{settings.analytics_port}"
    analytics = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(analytics_target, settings.token))
    return GrpcCorrections(identity, GrpcAnalytics(analytics, settings.rpc_timeout_s), settings.rpc_timeout_s)


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
