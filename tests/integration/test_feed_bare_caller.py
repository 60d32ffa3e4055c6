"""A gRPC caller of identity that is not one of ours (bare stubs: no batch protocol, no waiting) analyses
videos, merges, renames and deletes; analytics, following identity's feed by itself, ends consistent with
identity without that caller doing anything for it: appearances, crops, names, and the erasure."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from influencers.stack import start_stack
from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.common.protoconv import duration
from services.common.rpc import open_channel

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "photos"
VIDEO_A, VIDEO_B = "00000000000000aa", "00000000000000bb"


def frames(video_id: str, person: str) -> list[identity_pb2.AnalyzeVideoRequest]:
    """Three photos of one person as three frames (one shot) of a video."""
    return [identity_pb2.AnalyzeVideoRequest(video_id=video_id, index=k, timestamp=duration(k), span=duration(1.0),
                                             shot=k,
                               image=(PHOTOS / person / f"0{k + 1}.jpg").read_bytes()) for k in range(3)]


def eventually(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "analytics did not follow identity within the bound"
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request, settings):
    """The stack with identity's feed in SQLite (the embedded default) or in PostgreSQL, where the follower
    also takes the advisory lock."""
    if not (PHOTOS / "colin_powell").is_dir() or not (PHOTOS / "ariel_sharon").is_dir():
        pytest.skip(f"{PHOTOS} not present")
    if request.param == "postgresql":
        settings = settings.replace(database_url=request.getfixturevalue("postgres_url"))
    running = start_stack(settings, web=False)
    yield running
    running.stop()


def test_a_bare_identity_caller_leaves_analytics_consistent_without_doing_anything(stack):
    s = stack.settings
    identity = identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{s.identity_port}"))
    analytics = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{s.analytics_port}"))
    store = stack.store
    for video_id, person in ((VIDEO_A, "colin_powell"), (VIDEO_B, "ariel_sharon")):
        analytics.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
            video_id=video_id, url=f"{video_id}.mp4", performance=1.0, status=common_pb2.VIDEO_STATUS_DONE)),
            timeout=30)
        reply = identity.AnalyzeVideo(iter(frames(video_id, person)), timeout=120)
        assert reply.feed_position > 0 and reply.appearances
    eventually(lambda: bool(store.appearances_in(VIDEO_A)) and bool(store.appearances_in(VIDEO_B)))
    a = store.appearances_in(VIDEO_A)[0].influencer_id
    b = store.appearances_in(VIDEO_B)[0].influencer_id
    assert a != b
    eventually(lambda: store.appearance_face(VIDEO_A, a) is not None, 5)  # the crop, fetched by reference

    merged = identity.MergeInfluencers(identity_pb2.MergeInfluencersRequest(influencer_ids=[a, b]), timeout=30).changes
    assert merged.feed_position > reply.feed_position
    eventually(lambda: {x.influencer_id for x in store.appearances_in(VIDEO_B)} == {a})

    rename = identity_pb2.RenameInfluencerRequest(influencer_id=a, name="Two")
    renamed = identity.RenameInfluencer(rename, timeout=30).influencer
    assert renamed.feed_position > merged.feed_position
    eventually(lambda: store.names() == {a: "Two"})

    identity.DeleteInfluencer(identity_pb2.DeleteInfluencerRequest(influencer_id=a), timeout=30)
    eventually(lambda: store.appearances_of(a) == [] and store.names() == {})
    position = analytics.GetFeedPosition(analytics_pb2.GetFeedPositionRequest(), timeout=30)
    assert position.applied_position == position.head_position > 0


def test_a_reader_older_than_the_retained_tail_is_told_out_of_range(settings):
    if not (PHOTOS / "colin_powell").is_dir():
        pytest.skip(f"{PHOTOS} not present")
    running = start_stack(settings.replace(feed_retention=100), web=False)
    try:
        identity = identity_pb2_grpc.IdentityServiceStub(open_channel(f"127.0.0.1:{running.settings.identity_port}"))
        reply = identity.AnalyzeVideo(iter(frames(VIDEO_A, "colin_powell")), timeout=120)
        person = reply.appearances[0].influencer_id
        for k in range(210):
            last = identity.RenameInfluencer(identity_pb2.RenameInfluencerRequest(influencer_id=person, name=f"n{k}"),
                                             timeout=30).influencer.feed_position
        with pytest.raises(grpc.RpcError) as err:
            identity.ListChanges(identity_pb2.ListChangesRequest(after_position=1), timeout=30)
        assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
        page = identity.ListChanges(identity_pb2.ListChangesRequest(after_position=last - 5, page_size=2), timeout=30)
        assert [c.position for c in page.changes] == [last - 4, last - 3] and page.head_position == last
        assert all(c.kind == identity_pb2.CHANGE_KIND_CORRECTION for c in page.changes)
        eventually(lambda: running.store.names() == {person: "n209"})
    finally:
        running.stop()
