"""The follower's gRPC FeedSource against a real identity service on loopback: a crop identity has not and a
face_ref it refuses are both "no crop" (the follower goes on without a face), and the snapshot is one resync
stream of the store's changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from influencers.v1 import identity_pb2_grpc
from services.analytics.feed_grpc import GrpcFeedSource
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from services.identity.process import IdentityProcess


@pytest.fixture
def source(tmp_path) -> Iterator[tuple[GrpcFeedSource, IdentityProcess]]:
    process = IdentityProcess(Settings(data_dir=tmp_path, identity_port=0, workers=1))
    channel = open_channel(f"127.0.0.1:{process.port}")
    try:
        wait_healthy(channel, timeout_s=60)
        yield GrpcFeedSource(identity_pb2_grpc.IdentityServiceStub(channel), 30), process
    finally:
        channel.close()
        process.stop(grace_s=1)


def test_a_crop_identity_has_not_and_a_face_ref_it_refuses_are_both_no_crop(source) -> None:
    feed, _ = source
    assert feed.face_crop("00000000000000aa-1.jpg") is None  # identity: NOT_FOUND
    assert feed.face_crop("not a face ref") is None  # identity: INVALID_ARGUMENT


def test_the_snapshot_of_an_empty_store_is_its_feed_at_its_head(source) -> None:
    feed, process = source
    pages = list(feed.snapshot())
    assert pages and {p.feed_id for p in pages} == {process.feed.feed_id}
    assert pages[-1].feed_position == process.feed.head()
