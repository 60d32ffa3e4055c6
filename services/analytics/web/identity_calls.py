"""The corrections the report page makes: calls of the identity service. Identity publishes each change in its
feed and this replica's analytics applies it by itself; the page then waits, bounded, until the store it reads
has reached the position identity answered with (read-your-writes), and says "still catching up" past that.

`Corrections` is the port the routes use; `GrpcCorrections` its adapter over the shared identity client
(services/common/clients.py). The page never calls its own service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import grpc

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common.clients import REVIEW_ANSWERS, GrpcIdentity, Written
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.common.tls import channel_credentials

ANSWERS = REVIEW_ANSWERS
POLL_S = 0.05  # seconds between two reads of the applied feed position while waiting
REVIEW_COUNTS_TIMEOUT_S = 2.0  # the overview's wait for identity's queue, a decoration of the page

# Waits until the store has applied the feed up to a position; False when the bound passed first.
Waiter = Callable[[int], bool]


class Corrections(Protocol):
    """Each write returns what it changed and whether analytics had applied it within the wait (Written);
    identity's refusals raise grpc.RpcError."""

    def rename(self, influencer_id: str, name: str) -> Written: ...

    def merge(self, influencer_ids: Sequence[str]) -> Written:
        """Every influencer listed is merged into the first."""

    def move(self, video_id: str, influencer_id: str, target_id: str) -> Written:
        """One video's appearance of `influencer_id` goes to `target_id` ("" = a new influencer)."""

    def hide(self, influencer_id: str, hidden: bool) -> Written: ...

    def delete(self, influencer_id: str) -> Written: ...

    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]: ...

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]: ...

    def review_queue(self, limit: int = 0, include_unlikely: bool = False) -> identity_pb2.ListReviewItemsResponse:
        """The queue (most likely first) with the counts left on each side of the probability floor."""

    def answer(self, influencer_a: str, influencer_b: str, answer: str, wait: bool = True) -> Written:
        """`answer` is a key of ANSWERS. `wait=False`: answers at once, caught_up False (a batch of answers
        waits for its last one only: identity's feed positions are in order)."""

    def undo(self, audit_id: str) -> Written:
        """Reverts the correction of `audit_id` (identity's UndoCorrection)."""


def store_waiter(position_of: Callable[[], int], timeout_s: float) -> Waiter:
    """Waits (at most `timeout_s` seconds) until `position_of()` (the store's feed_position) reaches a position."""

    def wait(position: int) -> bool:
        deadline = time.monotonic() + timeout_s
        while position_of() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True
    return wait


class GrpcCorrections:
    """Corrections over the identity client; `wait` for read-your-writes."""

    def __init__(self, identity: GrpcIdentity, wait: Waiter) -> None:
        self._identity = identity
        self._wait = wait

    def _written(self, reply: identity_pb2.Changes) -> Written:
        return Written(reply.changed_videos, reply.feed_position, self._wait(reply.feed_position),
                       reply.audit.audit_id)

    def rename(self, influencer_id: str, name: str) -> Written:
        reply = self._identity.rename(influencer_id, name)
        return replace(self._written(reply), unchanged=not reply.audit.audit_id)  # no correction: no audit entry

    def merge(self, influencer_ids: Sequence[str]) -> Written:
        return self._written(self._identity.merge(influencer_ids))

    def move(self, video_id: str, influencer_id: str, target_id: str) -> Written:
        return self._written(self._identity.move(video_id, influencer_id, target_id))

    def hide(self, influencer_id: str, hidden: bool) -> Written:
        reply = self._identity.hide(influencer_id, hidden)
        return replace(self._written(reply), unchanged=not reply.audit.audit_id)  # hidden (or shown) already

    def delete(self, influencer_id: str) -> Written:
        return self._written(self._identity.delete(influencer_id))

    def enrol(self, name: str, photos: Sequence[bytes]) -> tuple[identity_pb2.EnrolInfluencerResponse, Written]:
        reply = self._identity.enrol(name, photos)
        return reply, self._written(reply.changes)

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]:
        """For the overview's counts, which are "unknown" without identity: a hung identity holds it
        REVIEW_COUNTS_TIMEOUT_S, not the RPC deadline (600 s by default) of a correction."""
        return self._identity.review(limit, timeout_s=REVIEW_COUNTS_TIMEOUT_S)

    def review_queue(self, limit: int = 0, include_unlikely: bool = False) -> identity_pb2.ListReviewItemsResponse:
        """The queue with its counts left on each side of the probability floor."""
        return self._identity.review_queue(limit, include_unlikely)

    def answer(self, influencer_a: str, influencer_b: str, answer: str, wait: bool = True) -> Written:
        reply = self._identity.answer(influencer_a, influencer_b, ANSWERS[answer])
        if not wait:
            return Written(reply.changed_videos, reply.feed_position, False, reply.audit.audit_id)
        return self._written(reply)

    def undo(self, audit_id: str) -> Written:
        return self._written(self._identity.undo(audit_id))


def connect(settings: Settings, position_of: Callable[[], int]) -> GrpcCorrections:
    """Corrections through the identity service at settings.identity_target (the channel connects lazily: the
    page starts before identity answers); `position_of`: the feed position of the store the page reads."""
    stub = identity_pb2_grpc.IdentityServiceStub(open_channel(settings.identity_target, settings.token,
                                                                   channel_credentials(settings), service="analytics"))
    return GrpcCorrections(GrpcIdentity(stub, settings.rpc_timeout_s), store_waiter(position_of, settings.feed_wait_s))


# Status of the page's answer when identity refuses a correction (anything else: 502, the message shown).
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    # Identity's disk full ("disk full: ... free some space and run again"), or a limit of calls at once: the
    # service cannot take the write now, which is 503; it was 502, a bad answer from identity, which it is not.
    grpc.StatusCode.RESOURCE_EXHAUSTED: 503,
    # Identity's face store damaged ("face store ... cannot be read (...); restore ..."): identity answered what
    # is wrong with it, which is no bad gateway; the page cannot be served until an operator restores it.
    grpc.StatusCode.DATA_LOSS: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
