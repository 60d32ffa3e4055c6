"""The gRPC adapter of the follower's `FeedSource` port (identity's ListChanges, Recluster snapshot and
GetFaceCrop), and the follower thread as the analytics process starts it."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.analytics.feed import (
    IDLE_S,
    AdvisoryLock,
    Follower,
    FollowerThread,
    Leadership,
    SoleLeader,
    TooFarBehind,
)
from services.analytics.store import AnalyticsStore
from services.common.clients import GrpcIdentity
from services.common.database import database_url, is_postgres, open_engine
from services.common.metrics import GAUGES
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.common.tls import channel_credentials


class GrpcFeedSource:
    """FeedSource over an IdentityService stub; each call has a deadline of `timeout_s` seconds (the snapshot, a
    whole store's at a million faces streaming for minutes, at least an hour: GrpcIdentity's recluster)."""

    def __init__(self, stub: identity_pb2_grpc.IdentityServiceStub, timeout_s: float) -> None:
        self._stub = stub
        self._timeout = timeout_s
        self._identity = GrpcIdentity(stub, timeout_s)

    def list_changes(self, after: int, page_size: int) -> tuple[list[identity_pb2.Change], int, str, str]:
        try:
            reply = self._stub.ListChanges(identity_pb2.ListChangesRequest(after_position=after, page_size=page_size),
                                           timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.OUT_OF_RANGE:
                raise TooFarBehind(exc.details()) from exc
            raise
        return list(reply.changes), reply.head_position, reply.feed_id, reply.after_digest

    def snapshot(self) -> Iterable[identity_pb2.Changes]:
        """Called again while identity is busy with other Recluster calls (recluster_limits)."""
        return self._identity.recluster((), resync_only=True)

    def face_crop(self, face_ref: str) -> bytes | None:
        """None for a crop identity has not (NOT_FOUND) or a face_ref it refuses (INVALID_ARGUMENT)."""
        try:
            return self._identity.face_crop(face_ref)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                return None
            raise


def leadership(settings: Settings) -> Leadership:
    """The advisory lock of settings.database_url's PostgreSQL database, or the sole process (SQLite)."""
    if not settings.database_url:
        return SoleLeader()
    engine = open_engine(database_url(settings.database_url, settings.data_dir / "analytics.sqlite3"), pool_size=1)
    return AdvisoryLock(engine) if is_postgres(engine) else SoleLeader()


def start_follower(settings: Settings, store: AnalyticsStore, idle_s: float = IDLE_S) -> FollowerThread:
    """Follows identity's feed at settings.identity_target into `store`, on a thread of its own (the channel
    connects lazily: analytics may start before identity answers), reading an idle feed every `idle_s` seconds."""
    stub = identity_pb2_grpc.IdentityServiceStub(open_channel(settings.identity_target, settings.token,
                                                                   channel_credentials(settings)))
    timeout = min(settings.rpc_timeout_s, 30.0)
    thread = FollowerThread(Follower(GrpcFeedSource(stub, timeout), store), leadership(settings), idle_s)
    # One short read each (the position's row); the lag of a replica not applying the feed is 0.
    thread.on_stop += [GAUGES.attach("influencers_feed_position", store.feed_position),
                       GAUGES.attach("influencers_feed_lag", thread.lag),
                       GAUGES.attach("influencers_feed_resync_pages", lambda: thread.follower.resync_pages)]
    return thread.start()
