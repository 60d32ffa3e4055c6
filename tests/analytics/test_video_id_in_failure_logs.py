"""Every JSON log line about one video names it, with tracing off: a failed RecordVideo's traceback line (written by
the servers' guard after the servicer's own code has left) and nothing of that call on the next call's lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2
from services.analytics.records import VideoRow
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common import logs
from services.common.rpc import open_channel
from services.common.settings import Settings
from tests.analytics.test_analytics_server import video

BROKEN = "00000000000000bb"


class StoreFailingOneVideo(AnalyticsStore):
    """The real store, whose write of video BROKEN, or of a row without a video id, fails as an unexpected bug
    would."""

    def record_video(self, row: VideoRow) -> bool:
        if row.video_id in (BROKEN, ""):
            raise RuntimeError("a bug in the store")
        return super().record_video(row)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    logs.configure_logging("json", "INFO", stream=buffer)
    yield buffer
    root.handlers, root.level = handlers, level


@pytest.fixture
def failing_stub(tmp_path: Path) -> Iterator[analytics_pb2_grpc.AnalyticsServiceStub]:
    store = StoreFailingOneVideo(tmp_path / "analytics.sqlite3")
    running = serve_analytics(Settings().replace(analytics_port=0), store)
    channel = open_channel(f"127.0.0.1:{running.port}")
    yield analytics_pb2_grpc.AnalyticsServiceStub(channel)
    channel.close()
    running.stop(grace_s=0.5)
    store.close()


def test_a_failed_record_video_logs_its_traceback_naming_the_video(failing_stub, json_lines) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        failing_stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=video("https://x/b.mp4", BROKEN, 1.0)))
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (failure,) = [x for x in lines if "RecordVideo failed" in x["event"]]
    assert failure["video_id"] == BROKEN and "a bug in the store" in json.dumps(failure["exception"])


def test_the_next_calls_lines_do_not_carry_the_failed_calls_video(failing_stub, json_lines) -> None:
    failed_row = common_pb2.Video(url="https://x/c.mp4", status=common_pb2.VIDEO_STATUS_FAILED, error="no such file")
    for _ in range(20):  # more calls than the server's threads: the same threads run both kinds
        for row in (video("https://x/b.mp4", BROKEN, 1.0), failed_row):  # the second has no video id
            with pytest.raises(grpc.RpcError):
                failing_stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=row))
    failures = [json.loads(line) for line in json_lines.getvalue().splitlines() if "RecordVideo failed" in line]
    assert len(failures) == 40
    assert sorted(x.get("video_id", "") for x in failures) == [""] * 20 + [BROKEN] * 20
