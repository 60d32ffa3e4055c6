"""A caller of identity naming a video by an id ingest never makes (identity takes letters, digits, _ and -;
analytics holds 16 hex digits only): analytics still follows every change of identity's feed after it."""

from __future__ import annotations

import grpc

from influencers.stack import start_stack
from influencers.v1 import analytics_pb2, analytics_pb2_grpc, identity_pb2, identity_pb2_grpc
from services.common.protoconv import duration
from services.common.rpc import open_channel


def test_a_video_id_analytics_cannot_hold_never_stops_analytics_following_the_feed(settings) -> None:
    stack = start_stack(settings, web=False)
    try:
        s = stack.settings
        identity = identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{s.identity_port}"))
        analytics = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{s.analytics_port}"))
        forgot = identity.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id="vid_" + "0" * 32), timeout=30)
        changes = list(identity.Recluster(identity_pb2.ReclusterRequest(video_ids=["clip-1"]), timeout=30))
        last = max([forgot.feed_position, *(c.changes.feed_position for c in changes)])
        assert last > 0
        wait = analytics_pb2.WaitForFeedPositionRequest(position=last, timeout=duration(20.0))
        try:
            reached = analytics.WaitForFeedPosition(wait, timeout=30)
        except grpc.RpcError as exc:
            raise AssertionError(f"analytics did not follow the feed: {exc.code()}") from exc
        assert reached.reached and reached.applied_position >= last
    finally:
        stack.stop()
