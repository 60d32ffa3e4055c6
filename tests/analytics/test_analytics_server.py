"""The analytics gRPC server for real: port 0 on loopback, called through a channel and the stub."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2
from services.analytics.records import appearance_from_proto
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.protoconv import duration
from services.common.rpc import open_channel
from services.common.settings import Settings


def video(url: str, video_id: str, performance: float, status: int = common_pb2.VIDEO_STATUS_DONE):
    return common_pb2.Video(url=url, video_id=video_id, performance=performance, status=status,
                            duration=duration(9.0))


def appearance(influencer_id: str) -> common_pb2.Appearance:
    return common_pb2.Appearance(influencer_id=influencer_id, first_seen=duration(1.0), last_seen=duration(4.0),
                                 faces=3, best_face=b"\xff\xd8jpeg", face_quality=0.7, screen_time=duration(3.0))


def appear(store: AnalyticsStore, video_id: str, *who: str, names: dict[str, str] | None = None) -> None:
    """Appearances arrive apart from the row: in the service from identity's feed, here straight into the
    store the feed's follower writes to."""
    store.replace_appearances({video_id: [appearance_from_proto(video_id, appearance(w)) for w in who]},
                              names or {})


def record_some(stub, store: AnalyticsStore, n: int = 12) -> None:
    for i in range(n):
        who = ["inf_57a7000001"] if i % 2 else ["inf_f10b000002"]
        perf = 2.0 if i % 2 else 0.5
        row = video(f"https://x/{i}.mp4", f"{i:016x}", perf + 0.01 * i)
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=row))
        appear(store, f"{i:016x}", *who)


def test_record_video_reports_created_once_and_get_video_finds_it_by_url_and_id(stub) -> None:
    request = analytics_pb2.RecordVideoRequest(video=video("https://x/a.mp4?s=1", "00000000000000aa", 1.25))
    assert stub.RecordVideo(request).created
    assert not stub.RecordVideo(request).created
    by_url = stub.GetVideo(analytics_pb2.GetVideoRequest(url="https://x/a.mp4?s=1")).video
    by_id = stub.GetVideo(analytics_pb2.GetVideoRequest(video_id="00000000000000aa")).video
    assert by_url == by_id
    assert by_url.performance == 1.25 and by_url.status == common_pb2.VIDEO_STATUS_DONE


def test_the_record_span_of_a_row_that_failed_before_it_was_hashed_has_no_empty_video_id(stub) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.common import tracing

    exporter = InMemorySpanExporter()
    tracing.install(["analytics"], exporter, batch=False)
    try:
        failed = common_pb2.Video(url="https://x/gone.mp4", performance=1.0, status=common_pb2.VIDEO_STATUS_FAILED,
                                  error="https://x/gone.mp4: HTTP 404")
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=failed))
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=video("https://x/b.mp4", "00000000000000bb", 1.0)))
    finally:
        tracing.shutdown_tracing()
    records = [dict(s.attributes) for s in exporter.get_finished_spans() if s.name == "record"]
    assert records == [{}, {"influencers.video_id": "00000000000000bb"}]


def test_an_unknown_video_is_not_found(stub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.GetVideo(analytics_pb2.GetVideoRequest(video_id="ffffffffffffffff"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_done_video_without_its_content_id_is_an_invalid_argument(stub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=video("https://x/a.mp4", "", 1.0)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_videos_filters_by_status(stub, store) -> None:
    record_some(stub, store, 2)
    stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
        url="bad", status=common_pb2.VIDEO_STATUS_FAILED, error="no such file")))
    everything = stub.ListVideos(analytics_pb2.ListVideosRequest()).videos
    failed = stub.ListVideos(analytics_pb2.ListVideosRequest(statuses=[common_pb2.VIDEO_STATUS_FAILED])).videos
    assert len(everything) == 3
    assert [(v.url, v.error, v.HasField("performance")) for v in failed] == [("bad", "no such file", False)]


def test_the_report_ranks_influencers_and_follows_writes(stub, store) -> None:
    record_some(stub, store)
    report = stub.GetReport(analytics_pb2.GetReportRequest())
    assert [s.influencer_id for s in report.influencers] == ["inf_57a7000001", "inf_f10b000002"]
    assert report.videos == 12 and report.model.folds == 5
    assert report.model.mae < report.model.baseline_mae
    assert report.model.residual_low < 0 < report.model.residual_high and report.model.interval_level == 0.9
    top = report.influencers[0]
    assert top.verdict in ("drives engagement", "not distinguishable") and 0 <= top.q_value <= 1
    assert top.ci_low <= top.shrunken_mean <= top.ci_high and top.ambiguous_videos == 0
    appear(store, f"{1:016x}", "inf_0e00000003", names={"inf_0e00000003": "Newcomer"})
    after = stub.GetReport(analytics_pb2.GetReportRequest(min_videos=1))
    assert {s.influencer_id: s.name for s in after.influencers}["inf_0e00000003"] == "Newcomer"
    regulars = stub.GetReport(analytics_pb2.GetReportRequest(min_videos=2)).influencers
    assert [s.influencer_id for s in regulars] == ["inf_57a7000001", "inf_f10b000002"]


def test_a_server_with_a_token_rejects_calls_without_it(tmp_path: Path) -> None:
    store = AnalyticsStore(tmp_path / "t.sqlite")
    running = serve_analytics(Settings().replace(analytics_port=0, token="s3cret"), store)
    try:
        bare = analytics_pb2_grpc.AnalyticsServiceStub(open_channel(f"127.0.0.1:{running.port}"))
        with pytest.raises(grpc.RpcError) as err:
            bare.ListVideos(analytics_pb2.ListVideosRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        channel = open_channel(f"127.0.0.1:{running.port}", token="s3cret")
        good = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        assert list(good.ListVideos(analytics_pb2.ListVideosRequest(), timeout=5).videos) == []
    finally:
        running.stop(grace_s=0.5)
        store.close()


def test_a_row_is_found_by_its_location_and_two_locations_with_one_spelling_are_two_rows(stub) -> None:
    for k, folder in enumerate(("/m1", "/m2")):
        row = video("a.mp4", f"{k + 1:016x}", 1.0 + k)
        row.location = f"{folder}/a.mp4"
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=row))
    second = stub.GetVideo(analytics_pb2.GetVideoRequest(location="/m2/a.mp4")).video
    assert (second.url, second.video_id, second.performance) == ("a.mp4", f"{2:016x}", 2.0)
    assert stub.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(location="/m2/a.mp4",
                                                                         performance=3.0)).changed
    assert stub.GetVideo(analytics_pb2.GetVideoRequest(location="/m1/a.mp4")).video.performance == 1.0


def test_a_new_score_for_an_unknown_row_is_not_found(stub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(location="/nowhere.mp4", performance=1.0))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("call", [
    lambda s: s.GetVideo(analytics_pb2.GetVideoRequest()).video,
    lambda s: s.GetVideo(analytics_pb2.GetVideoRequest(video_id="../../etc/passwd")).video,
    lambda s: s.GetVideo(analytics_pb2.GetVideoRequest(url="")).video,
    lambda s: s.RecordVideo(analytics_pb2.RecordVideoRequest(video=video("https://x/a.mp4", "../x", 1.0))),
    lambda s: s.RecordVideo(analytics_pb2.RecordVideoRequest(video=video("https://x/a.mp4", "0" * 16, float("nan")))),
    lambda s: s.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(url="https://x/a.mp4",
                                                                         performance=float("inf"))),
    lambda s: s.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(performance=1.0)),
    lambda s: s.GetReport(analytics_pb2.GetReportRequest(min_videos=-1)),
], ids=["no key", "path as video id", "empty url", "bad video id", "nan score", "infinite score", "no row key",
        "negative min"])
def test_malformed_arguments_are_invalid_arguments(stub, call) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(stub)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_appearances_written_beside_identitys_feed_are_refused(stub) -> None:
    # Identity alone says who is in which video; a write here would be overwritten, or bring back the erased.
    with pytest.raises(grpc.RpcError) as err:
        stub.ReplaceAppearances(analytics_pb2.ReplaceAppearancesRequest(videos=[common_pb2.VideoAppearances(
            video_id="0" * 16, appearances=[appearance("inf_57a7000001")])]))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "identity's change feed" in err.value.details()
