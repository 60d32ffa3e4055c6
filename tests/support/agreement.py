"""What every test of concurrent writes checks at its end: analytics, once it has applied identity's feed,
holds identity's people in every video, and its names."""
from __future__ import annotations

from typing import Any

from services.common.clients import GrpcAnalytics


def assert_analytics_agrees_with_identity(stack: Any, analytics: GrpcAnalytics) -> dict[str, list[Any]]:
    """`stack`: a running stack (tests' `stack` fixture): its identity service and its analytics store. Returns
    identity's appearances by video (the videos with any)."""
    assert analytics.wait_for_position(stack.identity.feed.head(), 30)
    registry = stack.identity.registry
    videos = list(registry.store.video_ids())
    truth = registry.appearances(videos)
    for video_id in videos:
        assert sorted(r.influencer_id for r in stack.store.appearances_in(video_id)) == \
            sorted(a.influencer_id for a in truth.get(video_id, [])), video_id
    assert stack.store.names() == registry.names()
    return truth
