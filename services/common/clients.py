"""gRPC clients of identity and analytics shared by ingest's batch protocol, the CLI and the report page (a
neutral place below the services: none of them imports another's package for these).

Identity owns "who is in which video": its writes answer with the position of their last change in its
feed, and analytics applies the feed by itself. A caller that shows a result waits, bounded, until analytics
has reached that position (read-your-writes, `GrpcAnalytics.wait_for_position`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.common.call_names import failed_call
from services.common.recluster_limits import streamed_when_free
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.common.tls import channel_credentials

log = logging.getLogger(__name__)

# A whole-store re-derivation at a million faces takes minutes, and closing a batch builds the search index
# over what it wrote: these two get at least an hour whatever the per-call deadline.
LONG_CALL_S = 3600.0
# A review answer as the analyst says it, and as identity takes it.
REVIEW_ANSWERS = {"same": identity_pb2.REVIEW_ANSWER_SAME, "different": identity_pb2.REVIEW_ANSWER_DIFFERENT,
                  "skip": identity_pb2.REVIEW_ANSWER_SKIP}
WAIT_CALL_S = 60.0  # one WaitForFeedPosition call waits at most this long (the server's bound)
BUSY_RETRY_S = 0.2  # pause before asking again when analytics answers that its waiters are all taken
CATCHING_UP = "analytics is still catching up: the change shows there within moments"


@dataclass(frozen=True)
class Written:
    """What an identity write changed (videos whose people changed, as identity counts them), the position of
    its last change in identity's feed, and whether analytics had applied it within the wait."""

    changed_videos: int
    position: int
    caught_up: bool = True
    audit_id: str = ""  # the correction's audit entry (the page's message and Undo find it by this id)
    unchanged: bool = False  # identity changed nothing: a rename to the name it has, a hide of someone hidden


@dataclass(frozen=True)
class Drained:
    """A Recluster stream read to its end: totals from its first message, its videos, the feed position."""

    influencers: int
    changed_videos: int
    videos: int
    position: int


def drain(pages: Iterable[identity_pb2.Changes]) -> Drained:
    """Reads a Recluster stream to its end (the position comes with its last message)."""
    influencers = changed = videos = position = 0
    for k, page in enumerate(pages):
        if k == 0:
            influencers, changed = page.influencers, page.changed_videos
        videos += len(page.videos)
        position = max(position, page.feed_position)
    return Drained(influencers, changed, videos, position)


class GrpcIdentity:
    """The identity service over a stub; every call has a deadline of `timeout_s` seconds (Recluster, for the
    whole stream, and CloseBatch at least LONG_CALL_S)."""

    def __init__(self, stub: identity_pb2_grpc.IdentityServiceStub, timeout_s: float) -> None:
        self._stub = stub
        self._timeout = timeout_s

    def open_batch(self, batch: str, worker: str) -> bool:
        reply = self._stub.OpenBatch(identity_pb2.OpenBatchRequest(batch=batch, worker=worker), timeout=self._timeout)
        return bool(reply.previous_interrupted)

    def close_batch(self, worker: str) -> None:
        self._stub.CloseBatch(identity_pb2.CloseBatchRequest(worker=worker), timeout=max(self._timeout, LONG_CALL_S))

    def list_video_ids(self, page_token: str) -> tuple[list[str], str]:
        reply = self._stub.ListVideoIds(identity_pb2.ListVideoIdsRequest(page_token=page_token),
                                        timeout=self._timeout)
        return list(reply.video_ids), reply.next_page_token

    def forget_video(self, video_id: str) -> int:
        """Forgets a video's faces; returns the feed position of the change."""
        return self._stub.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id=video_id),
                                      timeout=self._timeout).feed_position

    def recluster(self, video_ids: Sequence[str], resync_only: bool, publish: bool = False
                  ) -> Iterable[identity_pb2.Changes]:
        """Called again while identity is busy with other Recluster calls (recluster_limits), within the call's
        deadline."""
        request = identity_pb2.ReclusterRequest(video_ids=list(video_ids), resync_only=resync_only, publish=publish)
        pages = streamed_when_free(lambda left: self._stub.Recluster(request, timeout=left),
                                   max(self._timeout, LONG_CALL_S))
        return (page.changes for page in pages)

    def face_crop(self, face_ref: str) -> bytes | None:
        try:
            return self._stub.GetFaceCrop(identity_pb2.GetFaceCropRequest(face_ref=face_ref),
                                          timeout=self._timeout).jpeg
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def influencers(self, page_size: int = 1000) -> list[identity_pb2.Influencer]:
        """Every confirmed influencer (id, name, videos...), by id, read page by page."""
        found: list[identity_pb2.Influencer] = []
        token = ""
        while True:
            reply = self._stub.ListInfluencers(identity_pb2.ListInfluencersRequest(
                page_size=page_size, page_token=token), timeout=self._timeout)
            found.extend(reply.influencers)
            token = reply.next_page_token
            if not token:
                return found

    # ---- corrections by hand ---------------------------------------------------------------------------

    def merge(self, influencer_ids: Sequence[str]) -> identity_pb2.Changes:
        return self._stub.MergeInfluencers(identity_pb2.MergeInfluencersRequest(influencer_ids=list(influencer_ids)),
                                           timeout=self._timeout).changes

    def split(self, influencer_id: str, video_ids: Sequence[str]) -> identity_pb2.Changes:
        return self._stub.SplitInfluencer(identity_pb2.SplitInfluencerRequest(
            influencer_id=influencer_id, video_ids=list(video_ids)), timeout=self._timeout).changes

    def rename(self, influencer_id: str, name: str) -> identity_pb2.Changes:
        """Renames; the returned page carries only the influencer's label (an empty name clears it) and the
        feed position."""
        request = identity_pb2.RenameInfluencerRequest(influencer_id=influencer_id, name=name)
        reply = self._stub.RenameInfluencer(request, timeout=self._timeout)
        got = reply.influencer
        return identity_pb2.Changes(labels=[common_pb2.InfluencerLabel(
            influencer_id=influencer_id, name=got.name, hidden=got.hidden)], feed_position=got.feed_position,
            audit=reply.audit)

    def enrol(self, name: str, photos: Sequence[bytes]) -> identity_pb2.EnrolInfluencerResponse:
        return self._stub.EnrolInfluencer(identity_pb2.EnrolInfluencerRequest(name=name, photos=list(photos)),
                                          timeout=self._timeout)

    def move(self, video_id: str, influencer_id: str, target: str = "") -> identity_pb2.Changes:
        return self._stub.MoveAppearance(identity_pb2.MoveAppearanceRequest(
            video_id=video_id, influencer_id=influencer_id, target_influencer_id=target), timeout=self._timeout).changes

    def hide(self, influencer_id: str, hidden: bool) -> identity_pb2.Changes:
        request = identity_pb2.HideInfluencerRequest(influencer_id=influencer_id, hidden=hidden)
        return self._stub.HideInfluencer(request, timeout=self._timeout).changes

    def delete(self, influencer_id: str) -> identity_pb2.Changes:
        return self.erase(influencer_id).changes

    def erase(self, influencer_id: str) -> identity_pb2.DeleteInfluencerResponse:
        """The whole answer of a delete (already_erased: it was erased before, and published again)."""
        return self._stub.DeleteInfluencer(identity_pb2.DeleteInfluencerRequest(influencer_id=influencer_id),
                                           timeout=self._timeout)

    def review(self, page_size: int = 0, timeout_s: float | None = None) -> list[identity_pb2.ReviewItem]:
        """The review queue's items at or above the probability floor, most likely first (`timeout_s`: a deadline
        of its own, shorter than every call's)."""
        return list(self.review_queue(page_size, timeout_s=timeout_s).items)

    def review_queue(self, page_size: int = 0, include_unlikely: bool = False,
                     timeout_s: float | None = None) -> identity_pb2.ListReviewItemsResponse:
        """The review queue with its counts left (likely, unlikely) and floor."""
        return self._stub.ListReviewItems(identity_pb2.ListReviewItemsRequest(
            page_size=page_size, include_unlikely=include_unlikely),
            timeout=self._timeout if timeout_s is None else min(timeout_s, self._timeout))

    def undo(self, audit_id: str) -> identity_pb2.Changes:
        """Reverts the correction of an audit id (UndoCorrection)."""
        return self._stub.UndoCorrection(identity_pb2.UndoCorrectionRequest(audit_id=audit_id),
                                         timeout=self._timeout).changes

    def answer(self, a: str, b: str, answer: int) -> identity_pb2.Changes:
        """`answer`: an identity_pb2.ReviewAnswer value."""
        return self._stub.AnswerReviewItem(identity_pb2.AnswerReviewItemRequest(
            influencer_a=a, influencer_b=b, answer=answer), timeout=self._timeout).changes  # type: ignore[arg-type]


class GrpcAnalytics:
    """The analytics service over a stub, as ingest's batch protocol and the CLI need it; every call has a
    deadline of `timeout_s` seconds."""

    def __init__(self, stub: analytics_pb2_grpc.AnalyticsServiceStub, timeout_s: float) -> None:
        self._stub = stub
        self._timeout = timeout_s

    def list_done_video_ids(self, page_token: str) -> tuple[list[str], str]:
        reply = self._stub.ListVideos(analytics_pb2.ListVideosRequest(
            statuses=[common_pb2.VIDEO_STATUS_DONE], page_token=page_token), timeout=self._timeout)
        return [v.video_id for v in reply.videos], reply.next_page_token

    def wait_for_position(self, position: int, timeout_s: float) -> bool:
        """True once analytics has applied identity's feed up to `position`; False after `timeout_s` seconds
        (or when analytics cannot be reached: the caller says "still catching up")."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = max(0.0, deadline - time.monotonic())
            chunk = min(left, WAIT_CALL_S)
            request = analytics_pb2.WaitForFeedPositionRequest(position=position)
            request.timeout.FromNanoseconds(int(chunk * 1e9))
            try:
                reply = self._stub.WaitForFeedPosition(request, timeout=chunk + self._timeout)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline:
                    time.sleep(min(BUSY_RETRY_S, left))  # the replica's waiters are all taken: ask again
                    continue
                log.warning("cannot ask analytics for its feed position: %s", failed_call(exc))
                return False
            if reply.reached:
                return True
            if time.monotonic() >= deadline:
                return False


def connect(settings: Settings, analytics_target: str = "", actor: str = "") -> tuple[GrpcIdentity, GrpcAnalytics]:
    """The running identity and analytics services (at settings' targets, or analytics at
    `analytics_target`); channels connect lazily. `actor`: who the calls are made for (the audit trail)."""
    t, credentials = settings.rpc_timeout_s, channel_credentials(settings)
    identity = identity_pb2_grpc.IdentityServiceStub(
        open_channel(settings.identity_target, settings.token, credentials, actor))
    analytics = analytics_pb2_grpc.AnalyticsServiceStub(
        open_channel(analytics_target or settings.analytics_target, settings.token, credentials))
    return GrpcIdentity(identity, t), GrpcAnalytics(analytics, t)
