"""A split, the job's reconcile around it and every replay of identity's feed (analytics' position lost, every
video published again, the split undone) over gRPC with analytics following: each video counts once for each
influencer in it, and the means are those of the videos' scores."""

from __future__ import annotations

from test_registry import CENTRES, video
from test_review_queue import caught_up, clients, someone, stack  # noqa: F401 - fixtures

from influencers.v1 import common_pb2
from services.analytics.records import AppearanceRow, VideoRow
from services.analytics.stats import influencer_stats
from services.analytics.store_schema import state
from services.common.clients import drain

VIDEOS = {"00000000000000c1": 1.0, "00000000000000c2": 2.0, "00000000000000c3": 4.0}


def published(analytics, got) -> None:
    assert analytics.wait_for_position(got.position, 10), "analytics applies identity's changes by itself"


def counts(running) -> dict[str, tuple[int, float]]:
    """Each influencer's (videos, mean score) as the report has them."""
    stats = influencer_stats(running.store.video_frame(), running.store.appearance_frame())
    return {i: (int(n), float(m)) for i, n, m in zip(stats["influencer_id"], stats["videos"], stats["mean"],
                                                      strict=True)}


def test_a_split_its_reconcile_and_every_replay_of_the_feed_count_each_video_once(stack, clients):  # noqa: F811
    ident, analytics = clients
    registry = stack.identity.registry
    for k, (video_id, score) in enumerate(VIDEOS.items()):
        apps = registry.assign(video_id, video(someone(CENTRES["a"], k + 1)))
        stack.store.record_video(VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=score,
                                          status=common_pb2.VIDEO_STATUS_DONE),
                                 [AppearanceRow(video_id, x.influencer_id, x.first_seen_s, x.last_seen_s, x.faces,
                                                x.screen_time_s, x.face_quality, x.best_face, x.ambiguous,
                                                x.face_ref) for x in apps])
    (a,) = {f.record.influencer_id for f in registry.store.faces_in(list(VIDEOS))}
    published(analytics, drain(ident.recluster((), resync_only=True, publish=True)))
    assert counts(stack) == {a: (3, 7 / 3)}
    split = ident.split(a, ["00000000000000c1"])
    caught_up(analytics, split)
    (b,) = {x.influencer_id for v in split.videos for x in v.appearances}
    after = {a: (2, 3.0), b: (1, 1.0)}
    assert counts(stack) == after
    published(analytics, drain(ident.recluster(list(VIDEOS), resync_only=False)))  # the job's reconcile
    assert counts(stack) == after
    with stack.store._writing() as w:  # analytics' position lost: the whole feed is applied again over it
        w.c.execute(state.update().values(feed_position=0))
    published(analytics, drain(ident.recluster((), resync_only=True, publish=True)))  # a repair's resync
    assert counts(stack) == after
    caught_up(analytics, ident.undo(split.audit.audit_id))
    assert counts(stack) == {a: (3, 7 / 3)}
