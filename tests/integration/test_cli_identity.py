"""`influencers rename | merge | split | recluster` against running services: identity changes and
analytics follows."""

from test_registry import person, video  # synthetic people, shared with the registry tests

from influencers.cli import main
from influencers.v1 import common_pb2
from services.analytics.records import AppearanceRow, VideoRow


def record(stack, video_id, appearances):
    row = VideoRow(url=f"{video_id}.mp4", video_id=video_id, performance=1.0, status=common_pb2.VIDEO_STATUS_DONE)
    stack.store.record_video(row, [AppearanceRow(video_id, a.influencer_id, a.first_seen_s, a.last_seen_s, a.faces,
                                                 a.screen_time_s, a.face_quality, a.best_face, a.ambiguous)
                                   for a in appearances])


def test_rename_merge_and_split_reach_the_report(stack, capsys):
    registry = stack.identity.registry
    a = registry.assign("00000000000000a1", video(person(0, "a")))
    b = registry.assign("00000000000000a2", video(person(0, "b")))
    record(stack, "00000000000000a1", a)
    record(stack, "00000000000000a2", b)
    ports = ["--identity-port", str(stack.settings.identity_port),
             "--analytics-port", str(stack.settings.analytics_port)]
    ida, idb = a[0].influencer_id, b[0].influencer_id

    assert main(["rename", ida, "Ann", *ports]) == 0
    assert stack.store.names()[ida] == "Ann"
    assert main(["merge", ida, idb, *ports]) == 0
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000a2")} == {ida}
    assert main(["split", ida, "00000000000000a2", *ports]) == 0
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000a2")} != {ida}
    capsys.readouterr()
    assert main(["recluster", *ports]) == 0
    assert capsys.readouterr().out.startswith("re-clustered the whole store: ")


def test_a_correction_analytics_has_not_applied_within_the_wait_prints_still_catching_up(stack, capsys,
                                                                                           monkeypatch):
    registry = stack.identity.registry
    a = registry.assign("00000000000000b1", video(person(0, "a")))
    record(stack, "00000000000000b1", a)
    ports = ["--identity-port", str(stack.settings.identity_port),
             "--analytics-port", str(stack.settings.analytics_port)]
    stack.follower.stop()  # analytics stops following: the change stays in identity's feed
    monkeypatch.setenv("INFLUENCERS_FEED_WAIT_S", "0.3")
    assert main(["rename", a[0].influencer_id, "Ann", *ports]) == 0
    out = capsys.readouterr().out
    assert "still catching up" in out and stack.store.names() == {}
