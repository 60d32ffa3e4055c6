"""One manifest row through VideoPipeline, with the real analytics service (gRPC on loopback, SQLite in a
temp dir) and a fake identity service: how rows are isolated from each other and what makes a row known."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import subprocess
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import av
import grpc
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from influencers.v1 import analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc, ingest_pb2
from services.analytics.export import export_report
from services.analytics.records import appearance_from_proto
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.database import open_engine
from services.common.protoconv import duration
from services.common.row_keys import manifest_row_key
from services.common.rpc import open_channel, wait_healthy
from services.common.settings import Settings
from services.ingest.job_store import migrate
from services.ingest.jobs import prepared, settled_rows
from services.ingest.pipeline import InFlight, VideoPipeline, resolve_location
from services.ingest.repost_store import RepostStore
from services.ingest.stream_digest import coded_stream
from tests.support.media import end_hidden, open_gop_capture, remux_every_packet
from tests.support.rpc_errors import unavailable

DONE = common_pb2.VIDEO_STATUS_DONE
FAILED = common_pb2.VIDEO_STATUS_FAILED
DUPLICATE = common_pb2.VIDEO_STATUS_DUPLICATE
PERSON = "inf_aaaa000001"


def make_video(path: Path, seed: int, size: int = 64, frames: int = 6) -> Path:
    """A tiny H.264 file whose bytes depend on `seed`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


class FakeIdentity:
    """Implements the one identity call the pipeline makes: every video shows PERSON, unless its id is
    in `broken`, where the call raises what a malformed answer or a bug would. The appearance reaches
    `store` as identity's feed brings it to analytics (the follower applies the change)."""

    def __init__(self, store: AnalyticsStore) -> None:
        self.analysed: list[str] = []
        self.broken: dict[str, Exception] = {}
        self.store = store

    def AnalyzeVideo(self, frames, timeout=None):  # noqa: N802 - the stub's name
        frames = list(frames)
        video_id = frames[0].video_id
        self.analysed.append(video_id)
        if video_id in self.broken:
            raise self.broken[video_id]
        appearance = common_pb2.Appearance(influencer_id=PERSON, first_seen=duration(0.0), last_seen=duration(1.0),
                                           faces=2, best_face=b"\xff\xd8jpeg", face_quality=0.5,
                                           screen_time=duration(1.0))
        self.store.apply_changes(self.store.feed_position() + 1,
                                 {video_id: [appearance_from_proto(video_id, appearance)]}, {})
        return identity_pb2.AnalyzeVideoResponse(video_id=video_id, appearances=[appearance], frames=len(frames),
                                            faces_detected=2)


def resolve_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[VideoPipeline, FakeIdentity, AnalyticsStore]]:
    store = AnalyticsStore(tmp_path / "analytics.sqlite")
    settings = Settings(data_dir=tmp_path / "data", analytics_port=0, rpc_timeout_s=30)
    running = serve_analytics(settings, store)
    channel = open_channel(f"127.0.0.1:{running.port}")
    wait_healthy(channel, timeout_s=10)
    identity = FakeIdentity(store)
    yield VideoPipeline(settings, identity, analytics_pb2_grpc.AnalyticsServiceStub(channel)), identity, store  # type: ignore[arg-type]
    channel.close()
    running.stop(grace_s=0.5)
    store.close()


def test_any_exception_analysing_one_video_fails_that_row_only(rig, tmp_path) -> None:
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "broken.mp4", seed=1)
    make_video(folder / "fine.mp4", seed=2)
    broken_id = resolve_id(folder / "broken.mp4")
    identity.broken[broken_id] = RuntimeError("malformed answer:\n  frame 3 has no shot")
    first = pipeline.process("broken.mp4", 1.0, "", "", folder)
    second = pipeline.process("fine.mp4", 2.0, "", "", folder)
    assert first.video.status == FAILED and first.recorded
    assert first.video.error == "broken.mp4: RuntimeError: malformed answer: frame 3 has no shot"
    assert "\n" not in first.video.error
    assert second.video.status == DONE
    recorded = store.get_video(location=str(folder / "broken.mp4"))
    assert recorded.status == FAILED and recorded.error == first.video.error




class WaitingInFlight(InFlight):
    """The pipeline's in-flight ids, noting when a row waits for another row's bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def claim(self, video_id: str) -> threading.Event | None:
        wait = super().claim(video_id)
        if wait is not None:
            self.waiting.set()
        return wait


class HeldIdentity(FakeIdentity):
    """FakeIdentity whose analysis waits until `go` is set."""

    def __init__(self, store: AnalyticsStore) -> None:
        super().__init__(store)
        self.go = threading.Event()

    def AnalyzeVideo(self, frames, timeout=None):  # noqa: N802 - the stub's name
        assert self.go.wait(30)
        return super().AnalyzeVideo(frames, timeout)


def test_a_row_of_a_file_another_job_records_while_it_waits_is_seen_again_and_its_score_followed(
        rig, tmp_path) -> None:
    # The same manifest submitted again, its score corrected, while the first job analysed the file: the second
    # row waited for the first's bytes, then was a duplicate "same file as" its own URL, and its score was lost.
    pipeline, _, store = rig
    identity = HeldIdentity(store)
    pipeline.identity, pipeline.in_flight = identity, WaitingInFlight()
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=7)
    outcomes = {}
    first = threading.Thread(target=lambda: outcomes.setdefault(1, pipeline.process("a.mp4", 1.0, "", "", folder)))
    second = threading.Thread(target=lambda: outcomes.setdefault(5, pipeline.process("a.mp4", 5.0, "", "", folder)))
    first.start()
    second.start()
    assert pipeline.in_flight.waiting.wait(30), "one row waits for the other's bytes"
    identity.go.set()
    first.join(30)
    second.join(30)
    assert identity.analysed == [resolve_id(folder / "a.mp4")], "analysed once"
    assert sorted(o.video.status for o in outcomes.values()) == [DONE, DONE], [o.video.error for o in outcomes.values()]
    (waited,) = [score for score, o in outcomes.items() if o.already_counted]  # the row that waited: seen again
    assert store.get_video(location=str(folder / "a.mp4")).performance == waited  # its score, as set last


def test_identity_unreachable_is_no_fault_of_the_row_so_it_is_neither_failed_nor_recorded(rig, tmp_path) -> None:
    # Before, every row analysed while identity restarted (a rolling update, a SIGTERM) failed for good with
    # "service call failed (UNAVAILABLE: ...)" and was recorded failed; the job queue now gives it back.
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=3)
    identity.broken[resolve_id(folder / "a.mp4")] = unavailable()
    with pytest.raises(grpc.RpcError) as raised:
        pipeline.process("a.mp4", 1.0, "", "", folder)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert store.get_video(location=str(folder / "a.mp4")) is None


def test_ingests_own_database_gone_mid_row_is_no_fault_of_the_row_so_it_is_neither_failed_nor_recorded(
        rig, tmp_path) -> None:
    # Before, a PostgreSQL restart met while looking the video up among the reposts failed the row for good.
    pipeline, _, store = rig
    pipeline.reposts = RepostStore(open_engine("postgresql://nobody@127.0.0.1:1/none"))  # the database goes away
    folder = tmp_path / "m"
    make_video(folder / "b.mp4", seed=4)
    with pytest.raises(sa.exc.OperationalError):
        pipeline.process("b.mp4", 1.0, "", "", folder)
    assert store.get_video(location=str(folder / "b.mp4")) is None


def test_two_files_with_the_same_relative_name_in_two_folders_are_two_videos(rig, tmp_path) -> None:
    pipeline, identity, store = rig
    make_video(tmp_path / "m1" / "a.mp4", seed=1)
    make_video(tmp_path / "m2" / "a.mp4", seed=2)
    one = pipeline.process("a.mp4", 1.0, "", "", tmp_path / "m1")
    two = pipeline.process("a.mp4", 2.0, "", "", tmp_path / "m2")
    assert (one.video.status, two.video.status) == (DONE, DONE)
    assert len(identity.analysed) == 2
    assert sorted(store.video_frame()["performance"]) == [1.0, 2.0]
    paths = export_report(store, tmp_path / "out")
    videos = list(csv.reader(io.StringIO(paths["videos"].read_text(), newline="")))[1:]
    assert [row[:3] for row in videos] == [["a.mp4", "1.0", "done"], ["a.mp4", "2.0", "done"]]
    # ...and each appearance joins its own video by video_id: the URL, alike, joined each to both (was: no id)
    seen = pd.read_csv(paths["appearances"]).merge(pd.read_csv(paths["videos"]), on="video_id")
    assert sorted(zip(seen["video_url_x"], seen["performance"], strict=True)) == [("a.mp4", 1.0), ("a.mp4", 2.0)]


def test_a_row_without_a_url_is_recorded_failed_under_its_manifest_row_and_listed_once_in_videos_csv(
        rig, tmp_path) -> None:
    # Before, such a row failed in the job's progress only: analytics keys a row by the file it names, so it was
    # never recorded and videos.csv had one row fewer than the manifest (rows in != rows out).
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    key = manifest_row_key(str(folder), 3, 2)
    for _ in range(2):  # the same manifest again: still one row each
        good = pipeline.process("a.mp4", 1.0, "", "", folder, row_key=manifest_row_key(str(folder), 2, 1))
        missing = pipeline.process("", 2.0, "", "line 3: video URL is missing", folder, row_key=key)
        assert good.video.status == DONE
        assert (missing.video.status, missing.video.error, missing.recorded) == (
            FAILED, "line 3: video URL is missing", True)
    videos = pd.read_csv(export_report(store, tmp_path / "out")["videos"], keep_default_na=False)
    assert videos[["video_url", "performance", "status", "error", "location"]].values.tolist() == [
        ["a.mp4", 1.0, "done", "", "m/a.mp4"], ["", 2.0, "failed", "line 3: video URL is missing", ""]]
    assert len(identity.analysed) == 1


def test_every_row_of_a_manifest_is_listed_once_in_videos_csv_a_failure_beside_a_good_row_of_its_file_too(
        rig, tmp_path) -> None:
    # Before, a failed row whose URL another row of the manifest also gave (a bad score, another score than the
    # first row's) was in the job's report only, never recorded (6 rows in, 3 out here): analytics keys a row by
    # the file it names, and that record is the good row's. A second broken row of one file replaced the first.
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    make_video(folder / "b.mp4", seed=2)
    rows = [("a.mp4", 1.0, ""), ("a.mp4", 5.0, ""), ("a.mp4", None, "line 4: performance is missing"),
            ("a.mp4", 1.0, ""), ("b.mp4", None, "line 6: performance 'abc' is not a number"),
            ("b.mp4", None, "line 7: performance is missing")]
    request = prepared(ingest_pb2.StartIngestRequest(base_dir=str(folder), videos=[
        ingest_pb2.VideoSubmission(url=url, performance=score, row_error=error, line=k + 2) if score is not None
        else ingest_pb2.VideoSubmission(url=url, row_error=error, line=k + 2)
        for k, (url, score, error) in enumerate(rows)]))
    settled = settled_rows(request)
    assert sorted(settled) == [3], "line 5 repeats line 2: listed under it (its repeats)"
    for _ in range(2):  # the same manifest again: still one row each
        for k, sub in enumerate(request.videos):
            if k not in settled:  # as SubmissionRunner.run_row runs a row
                pipeline.process(sub.url, sub.performance if sub.HasField("performance") else None, "",
                                 sub.row_error, folder, repeats=sub.repeats, kept_apart=sub.kept_apart,
                                 row_key=manifest_row_key(str(folder), sub.line, k))
    videos = pd.read_csv(export_report(store, tmp_path / "out")["videos"], keep_default_na=False)
    assert sorted(videos[["video_url", "status", "error", "location"]].values.tolist()) == [
        ["a.mp4", "done", "", "m/a.mp4"],
        ["a.mp4", "duplicate", "same URL as the row above (listed 2 times in the manifest)", "m/a.mp4"],
        ["a.mp4", "failed", "a.mp4: line 3: performance 5 differs from the 1 of line 2, which gives the same URL: "
                            "line 2's is kept; correct or remove one of the rows", ""],
        ["a.mp4", "failed", "a.mp4: line 4: performance is missing", ""],
        ["b.mp4", "failed", "b.mp4: line 6: performance 'abc' is not a number", "m/b.mp4"],
        ["b.mp4", "failed", "b.mp4: line 7: performance is missing", ""]]
    assert store.video_frame()["performance"].tolist() == [1.0], "the good row's score and result are untouched"
    assert len(identity.analysed) == 1


def test_a_copy_of_a_counted_video_given_another_score_says_which_score_counts(rig, tmp_path) -> None:
    # Was: "same video as a.mp4" alone, and the copy's new score 1.5 gone in silence (an export whose paths
    # moved, its scores corrected, changed nothing and said nothing of it)
    pipeline, identity, store = rig
    make_video(tmp_path / "m1" / "a.mp4", seed=1)
    (tmp_path / "m2").mkdir()
    (tmp_path / "m2" / "a.mp4").write_bytes((tmp_path / "m1" / "a.mp4").read_bytes())
    (tmp_path / "m2" / "b.mp4").write_bytes((tmp_path / "m1" / "a.mp4").read_bytes())
    pipeline.process("a.mp4", 1.186, "", "", tmp_path / "m1")
    other = pipeline.process("a.mp4", 1.5, "", "", tmp_path / "m2")
    same = pipeline.process("b.mp4", 1.186, "", "", tmp_path / "m2")
    assert (other.video.status, same.video.status) == (DUPLICATE, DUPLICATE)
    assert other.video.error == "same video as a.mp4, whose score 1.186 counts, not this row's 1.5"
    assert same.video.error == "same video as a.mp4", "a copy with the same score needs no word of it"
    assert store.video_frame()["performance"].tolist() == [1.186]


class Refusing(identity_pb2_grpc.IdentityServiceServicer):
    """Identity answering AnalyzeVideo with `code` and `details`, as our ErrorGuard does (INTERNAL for a bug,
    DATA_LOSS naming a damaged store under the data dir)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details

    def AnalyzeVideo(self, request_iterator, context):  # noqa: N802 - the service's name
        for _ in request_iterator:
            pass
        context.abort(self.code, self.details)


@pytest.mark.parametrize(("code", "details", "said"), [
    (grpc.StatusCode.INTERNAL, "internal error (the service's log has the details)",
     "identity.AnalyzeVideo failed: INTERNAL internal error (the service's log has the details)"),
    (grpc.StatusCode.DATA_LOSS, "face store {data}/qdrant/edge/faces cannot be read (bad page); restore it",
     "identity.AnalyzeVideo failed: DATA_LOSS face store DATA/qdrant/edge/faces cannot be read (bad page); "
     "restore it"),
])
def test_a_row_a_service_refused_names_the_service_and_call_and_no_server_path(rig, tmp_path, code, details, said):
    # Before: "a.mp4: service call failed (INTERNAL: internal error in AnalyzeVideo ...)", naming no service, and
    # a damaged store's absolute path on the server in videos.csv.
    pipeline, _, store = rig
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(
        Refusing(code, details.format(data=pipeline.settings.data_dir.resolve())), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = open_channel(f"127.0.0.1:{port}", service="ingest")
    pipeline.identity = identity_pb2_grpc.IdentityServiceStub(channel)
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=5)
    try:
        outcome = pipeline.process("a.mp4", 1.0, "", "", folder)
    finally:
        channel.close()
        server.stop(0)
    assert outcome.video.status == FAILED
    assert outcome.video.error == f"a.mp4: {said}"
    assert store.get_video(location=str(folder / "a.mp4")).error == outcome.video.error


def test_resubmitting_the_same_rows_processes_nothing_again_and_follows_a_changed_score(rig, tmp_path) -> None:
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    pipeline.process("a.mp4", 1.0, "", "", folder)
    again = pipeline.process("./a.mp4", 1.0, "", "", folder)  # another spelling of the same file
    changed = pipeline.process("a.mp4", 1.75, "", "", folder)
    assert identity.analysed == [resolve_id(folder / "a.mp4")]
    assert not again.recorded and again.video.status == DONE
    assert changed.video.performance == 1.75
    assert store.video_frame()["performance"].tolist() == [1.75]
    assert len(store.list_videos()) == 1


def test_a_file_replaced_in_place_is_processed_again(rig, tmp_path) -> None:
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    pipeline.process("a.mp4", 1.0, "", "", folder)
    make_video(folder / "a.mp4", seed=3)
    assert pipeline.process("a.mp4", 1.0, "", "", folder).video.status == DONE
    assert len(identity.analysed) == 2
    assert store.video_frame()["video_id"].tolist() == [resolve_id(folder / "a.mp4")]


@pytest.mark.parametrize("error", ["line 2: performance 'abc' is not a number",
                                   "line 2: performance 'nan' is not a finite number",
                                   "line 2: performance '-1' is negative", "line 2: performance is missing"])
def test_a_bad_score_on_a_rerun_reports_the_error_and_keeps_the_video_its_score_and_appearances(
    rig, tmp_path, error
) -> None:
    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    pipeline.process("a.mp4", 1.0, "", "", folder)
    rerun = pipeline.process("a.mp4", None, "", error, folder)
    assert rerun.video.status == FAILED
    assert rerun.video.error == f"a.mp4: {error} (the previous result is kept)"
    row = store.get_video(location=str(folder / "a.mp4"))
    assert (row.status, row.performance, row.error) == (DONE, 1.0, rerun.video.error)
    assert store.video_frame()["performance"].tolist() == [1.0]
    assert [a.influencer_id for a in store.appearance_frame().itertuples()] == [PERSON]
    good_again = pipeline.process("a.mp4", 1.0, "", "", folder)
    assert good_again.video.error == "" and store.get_video(location=str(folder / "a.mp4")).error == ""
    assert len(identity.analysed) == 1


def test_a_row_recorded_before_locations_were_kept_is_recognised_not_counted_twice(rig, tmp_path) -> None:
    from services.analytics.records import AppearanceRow, VideoRow

    pipeline, identity, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    video_id = resolve_id(folder / "a.mp4")
    store.record_video(VideoRow("a.mp4", video_id, 1.0, DONE, duration_s=1.0),
                       [AppearanceRow(video_id, PERSON, 0.0, 1.0, 2, 1.0, 0.5, b"jpeg")])
    outcome = pipeline.process("a.mp4", 1.25, "", "", folder)
    assert outcome.video.status == DONE and identity.analysed == []
    (row,) = store.list_videos()
    assert (row.location, row.status, row.performance) == (str(folder / "a.mp4"), DONE, 1.25)
    assert len(store.appearance_frame()) == 1


def test_locations_resolve_local_paths_against_the_manifest_folder_and_keep_urls(tmp_path) -> None:
    base = tmp_path / "m"
    assert resolve_location("a.mp4", base) == str(base / "a.mp4")
    assert resolve_location("sub/../a.mp4", base) == str(base / "a.mp4")
    assert resolve_location(f"file://{tmp_path}/x.mp4", base) == str(tmp_path / "x.mp4")
    assert resolve_location("/abs/./v.mp4", base) == "/abs/v.mp4"
    assert resolve_location("https://cdn.example.com/a.mp4?x=1", base) == "https://cdn.example.com/a.mp4?x=1"
    assert resolve_location("gopher://x/y", base) == "gopher://x/y"


class _AnalyticsRestarting:
    """The analytics stub, its RecordVideo meeting a restart (UNAVAILABLE); its other calls answered."""

    def __init__(self, stub: object) -> None:
        self._stub = stub

    def __getattr__(self, name: str) -> object:
        return getattr(self._stub, name)

    def RecordVideo(self, request: object, timeout: float) -> None:  # noqa: N802
        raise unavailable()


def test_a_failed_row_whose_record_meets_analytics_restarting_is_given_back_not_left_unrecorded(
        rig, tmp_path) -> None:
    # Before, the row ended failed "(not recorded: UNAVAILABLE: ...)" for good: absent from videos.csv.
    pipeline, _, store = rig
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "notes.mp4").write_text("not a video")
    pipeline.analytics = _AnalyticsRestarting(pipeline.analytics)
    with pytest.raises(grpc.RpcError) as raised:
        pipeline.process("notes.mp4", 1.0, "", "", folder)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert store.get_video(location=str(folder / "notes.mp4")) is None


def test_a_kept_apart_row_run_by_old_and_new_ingest_replicas_in_a_rolling_upgrade_is_listed_once(
        rig, tmp_path) -> None:
    # An ingest replica of the release before VideoSubmission.manifest keys the row by its folder and line; one of
    # this release by its folder, manifest and line. Before, the row was listed once under each key.
    pipeline, _, store = rig
    folder = tmp_path / "m"
    make_video(folder / "a.mp4", seed=1)
    old, new = manifest_row_key(str(folder), 3, 1), manifest_row_key(str(folder), 3, 1, "week1.csv")
    pipeline.process("a.mp4", 1.0, "", "", folder, row_key=manifest_row_key(str(folder), 2, 0, "week1.csv"))
    for key in (old, new, old, new):  # the row's attempts, taken by either replica
        bad = pipeline.process("a.mp4", None, "", "line 3: performance is missing", folder, kept_apart=True,
                               row_key=key)
        assert bad.recorded and bad.video.status == FAILED
    videos = pd.read_csv(export_report(store, tmp_path / "out")["videos"], keep_default_na=False)
    assert videos[["video_url", "status", "location"]].values.tolist() == [
        ["a.mp4", "done", "m/a.mp4"], ["a.mp4", "failed", ""]]


def test_a_video_whose_display_matrix_turns_it_an_odd_angle_is_done_and_its_row_and_log_say_so(
        rig, tmp_path, caplog) -> None:
    """Sampled as stored (video.py odd_display); the row's result says so and the log names the file and the
    angle. Was: done in silence."""
    pipeline, identity, _ = rig
    folder = tmp_path / "m"
    whole = make_video(folder / "whole.mp4", seed=3).read_bytes()
    at = whole.find(b"tkhd") + 4 + 4 + 20 + 8 + 8  # version 0: the matrix's place in the track header
    one = 46341  # cos 45 degrees in 16.16
    (folder / "tilted.mp4").write_bytes(
        whole[:at] + np.array([one, one, 0, -one, one, 0, 0, 0, 1 << 30], ">i4").tobytes() + whole[at + 36:])
    with caplog.at_level("WARNING", logger="services.ingest.pipeline"):
        outcome = pipeline.process("tilted.mp4", 1.0, "", "", folder)
    said = "its display matrix turns the picture 45 degrees clockwise, not a quarter turn: sampled as stored"
    assert outcome.video.status == DONE and identity.analysed
    assert outcome.video.error.startswith(f"warning: {said}")
    assert any(r.url == "tilted.mp4" and r.reason.startswith(said)  # type: ignore[attr-defined]
               for r in caplog.records if r.name == "services.ingest.pipeline")  # its records only, as below


class CopyingIdentity(FakeIdentity):
    """FakeIdentity that also copies a video's people (identity's CopyVideo), noting each copy as (copy, source)."""

    def __init__(self, store: AnalyticsStore) -> None:
        super().__init__(store)
        self.copies: list[tuple[str, str]] = []

    def CopyVideo(self, request, timeout=None):  # noqa: N802 - the stub's name
        self.copies.append((request.video_id, request.source_video_id))
        return identity_pb2.CopyVideoResponse(video_id=request.video_id, faces_detected=2)


def with_repost_store(pipeline: VideoPipeline, tmp_path: Path) -> sa.Engine:
    """Gives `pipeline` a repost store of its own (a migrated SQLite job store in `tmp_path`): its engine."""
    engine = open_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    migrate(engine)
    pipeline.reposts = RepostStore(engine)
    return engine


def test_a_remux_of_a_video_at_an_odd_angle_copied_by_its_stream_digest_says_what_its_source_says(
        rig, tmp_path, caplog) -> None:
    """The remux (another container's bytes, the same coded stream and display matrix) is done as a copy, without
    decoding, and its row and log carry its source's note. Was: the copy's row said nothing of the angle."""
    pipeline, _, store = rig
    identity = pipeline.identity = CopyingIdentity(store)
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    whole = make_video(folder / "whole.mp4", seed=3, frames=15).read_bytes()
    at = whole.find(b"tkhd") + 4 + 4 + 20 + 8 + 8  # version 0: the matrix's place in the track header
    one = 46341  # cos 45 degrees in 16.16
    (folder / "tilted.mp4").write_bytes(
        whole[:at] + np.array([one, one, 0, -one, one, 0, 0, 0, 1 << 30], ">i4").tobytes() + whole[at + 36:])
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "tilted.mp4"), "-c", "copy", "-metadata",
                    "title=repost", str(folder / "repost.mp4")], check=True)
    source = pipeline.process("tilted.mp4", 1.0, "", "", folder)
    with caplog.at_level("WARNING", logger="services.ingest.pipeline"):
        copy = pipeline.process("repost.mp4", 2.0, "", "", folder)
    said = "its display matrix turns the picture 45 degrees clockwise, not a quarter turn: sampled as stored"
    assert source.video.status == copy.video.status == DONE
    assert identity.copies == [(copy.video.video_id, source.video.video_id)]  # copied by its digest, not analysed
    assert identity.analysed == [source.video.video_id]
    assert copy.video.error == source.video.error and copy.video.error.startswith(f"warning: {said}")
    assert store.get_video(location=str(folder / "repost.mp4")).error == source.video.error
    # The pipeline's records only: another may come first (a warning of Python's, as a log record once an earlier
    # test has set logging up), without the pipeline's fields.
    assert any(r.url == "repost.mp4" and r.reason.startswith(said)  # type: ignore[attr-defined]
               for r in caplog.records if r.name == "services.ingest.pipeline")
    engine.dispose()


def test_a_repost_whose_edit_list_hides_the_end_of_its_source_is_analysed_for_what_it_shows_not_copied(
        rig, tmp_path) -> None:
    """The source's every packet, its edit list ending at 1.5 s of 3 s (test_stream_digest::end_hidden): a player
    plays 1.5 s. Was: the same stream digest as the source's, so done as its copy with its 3 s and its people."""
    pipeline, identity, store = rig
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=3", "-c:v",
                    "libx264", "-bf", "3", "-g", "25", "-pix_fmt", "yuv420p", str(folder / "source.mp4")], check=True)
    end_hidden(folder / "source.mp4", folder / "cut.mp4", 1500)
    source = pipeline.process("source.mp4", 1.0, "", "", folder)
    cut = pipeline.process("cut.mp4", 2.0, "", "", folder)
    assert source.video.status == cut.video.status == DONE
    assert identity.analysed == [source.video.video_id, cut.video.video_id]  # analysed, not copied from the source
    assert source.video.duration.ToTimedelta().total_seconds() == pytest.approx(3.0, abs=0.05)
    assert cut.video.duration.ToTimedelta().total_seconds() == pytest.approx(1.5, abs=0.05)
    engine.dispose()


def test_a_copy_of_a_video_whose_stored_digest_an_older_release_wrote_is_still_copied_and_a_trim_of_it_is_not(
        rig, tmp_path, caplog) -> None:
    """A video whose edit list hides the end of its stream, stored with the digest releases wrote before a hidden
    head or end was digested (rewritten here as such a release left it), and sampled too finely for a look (70
    frames, over 64: the frames alike cannot find its copies). Its copy (the same file followed by junk, which
    players leave unread) is copied by that digest once decoded, since it lasts as long, and the video keeps
    today's digest too, so the next copy is copied before it is decoded. Was: its copies no longer matched it,
    each analysed again. A trim of it by its index (the same packets, less shown) has the same old digest and is
    analysed: it lasts less."""
    pipeline, _, store = rig
    identity = pipeline.identity = CopyingIdentity(store)
    pipeline.settings = dataclasses.replace(pipeline.settings, sample_interval_s=0.02)
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=6", "-c:v",
                    "libx264", "-bf", "3", "-g", "25", "-pix_fmt", "yuv420p", str(folder / "source.mp4")], check=True)
    end_hidden(folder / "source.mp4", folder / "stored.mp4", 5000)
    coded = coded_stream(folder / "stored.mp4")
    assert coded.legacy is not None and coded.legacy != coded.digest
    stored = pipeline.process("stored.mp4", 1.0, "", "", folder).video
    with engine.begin() as conn:  # as an older release stored it
        conn.execute(sa.text("UPDATE ingest_stream_digests SET digest = :old WHERE video_id = :id"),
                     {"old": coded.legacy, "id": stored.video_id})
    for name, junk in (("copy.mp4", b"\0" * 100), ("again.mp4", b"\1" * 100)):
        (folder / name).write_bytes((folder / "stored.mp4").read_bytes() + junk)
    end_hidden(folder / "source.mp4", folder / "trim.mp4", 3000)
    with caplog.at_level("INFO", logger="services.ingest.pipeline"):
        copy = pipeline.process("copy.mp4", 2.0, "", "", folder)
    again = pipeline.process("again.mp4", 2.0, "", "", folder)
    trim = pipeline.process("trim.mp4", 2.0, "", "", folder)
    assert stored.status == copy.video.status == again.video.status == trim.video.status == DONE
    assert identity.analysed == [stored.video_id, trim.video.video_id]
    assert identity.copies == [(copy.video.video_id, stored.video_id), (again.video.video_id, stored.video_id)]
    assert any("digested by an older release" in r.getMessage() for r in caplog.records
               if r.name == "services.ingest.pipeline")
    assert "decode" in copy.stage_seconds and "decode" not in again.stage_seconds  # known by today's digest at once
    for outcome, seconds in ((copy, 5.0), (again, 5.0), (trim, 3.0)):
        assert outcome.video.duration.ToTimedelta().total_seconds() == pytest.approx(seconds, abs=0.05)
    engine.dispose()


def test_an_open_gop_capture_stored_by_an_older_release_is_matched_by_its_remuxes_before_they_are_decoded(
        rig, tmp_path, caplog) -> None:
    """A recording of open GOPs joined mid-GOP (its head, which refers to pictures it lacks, dropped by the decoder:
    a lead today's digest covers and an older release's did not), stored with the older digest, sampled too finely
    for a look. Its remux into Matroska (every packet kept, no edit list: it hides nothing) lasts, by its demux, as
    long as the stored video, so it is copied before it is decoded (was: decoded once first), and the video keeps
    today's digest: its MP4 remux is then known by that at once. A trim of the MP4 (its end hidden by an edit list:
    the same old digest) is decoded, lasts less, and is analysed."""
    pipeline, _, store = rig
    identity = pipeline.identity = CopyingIdentity(store)
    pipeline.settings = dataclasses.replace(pipeline.settings, sample_interval_s=0.02)
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    capture = open_gop_capture(folder)
    coded = coded_stream(capture)
    assert coded.legacy is not None and coded.legacy != coded.digest and not coded.hides
    stored = pipeline.process("capture.ts", 1.0, "", "", folder).video
    with engine.begin() as conn:  # as an older release stored it
        conn.execute(sa.text("UPDATE ingest_stream_digests SET digest = :old WHERE video_id = :id"),
                     {"old": coded.legacy, "id": stored.video_id})
    remux_every_packet(capture, folder / "copy.mkv")
    remux_every_packet(capture, folder / "copy.mp4")
    end_hidden(folder / "copy.mp4", folder / "trim.mp4", 4000)
    assert coded_stream(folder / "trim.mp4").hides
    with caplog.at_level("INFO", logger="services.ingest.pipeline"):
        mkv = pipeline.process("copy.mkv", 2.0, "", "", folder)
    mp4 = pipeline.process("copy.mp4", 2.0, "", "", folder)
    trim = pipeline.process("trim.mp4", 2.0, "", "", folder)
    assert stored.status == mkv.video.status == mp4.video.status == trim.video.status == DONE
    assert identity.copies == [(mkv.video.video_id, stored.video_id), (mp4.video.video_id, stored.video_id)]
    assert identity.analysed == [stored.video_id, trim.video.video_id]
    assert any("digested by an older release" in r.getMessage() for r in caplog.records
               if r.name == "services.ingest.pipeline")
    assert "decode" not in mkv.stage_seconds and "decode" not in mp4.stage_seconds
    assert mkv.video.duration.ToTimedelta().total_seconds() == pytest.approx(
        stored.duration.ToTimedelta().total_seconds(), abs=0.02)
    assert trim.video.duration.ToTimedelta().total_seconds() < 4.5
    engine.dispose()


def test_an_open_gop_cut_in_mpeg_ts_is_known_in_its_matroska_remux_and_by_the_digest_the_release_before_stored(
        rig, tmp_path) -> None:
    """An HEVC stream of open GOPs (x265's CRA) cut at a key frame with `-c copy` into MPEG-TS: its leading pictures
    come before the key frame's time. Its ffmpeg remux into Matroska is copied from it before it is decoded (was:
    another digest, the leading pictures' times unread and a zero byte after each packet, so decoded and analysed
    again). The cut stored with the digest the release before wrote is still found by its copies in MPEG-TS."""
    pipeline, _, store = rig
    identity = pipeline.identity = CopyingIdentity(store)
    pipeline.settings = dataclasses.replace(pipeline.settings, sample_interval_s=0.02)  # too fine for a look
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=6", "-c:v",
                    "libx265", "-g", "25", "-x265-params", "open-gop=1:scenecut=0:log-level=error", "-pix_fmt",
                    "yuv420p", str(folder / "source.ts")], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "2.1", "-i", str(folder / "source.ts"), "-c", "copy",
                    str(folder / "cut.ts")], check=True)
    remux_every_packet(folder / "cut.ts", folder / "copy.mkv")
    stored = pipeline.process("cut.ts", 1.0, "", "", folder).video
    mkv = pipeline.process("copy.mkv", 2.0, "", "", folder)
    assert stored.status == mkv.video.status == DONE
    assert identity.copies == [(mkv.video.video_id, stored.video_id)] and "decode" not in mkv.stage_seconds
    coded = coded_stream(folder / "cut.ts")
    assert coded.legacy is not None and coded.legacy != coded.digest
    with engine.begin() as conn:  # as the release before stored it
        conn.execute(sa.text("UPDATE ingest_stream_digests SET digest = :old WHERE video_id = :id"),
                     {"old": coded.legacy, "id": stored.video_id})
    ts = pipeline.process(str(remux_every_packet(folder / "cut.ts", folder / "copy.ts")), 2.0, "", "", folder)
    assert ts.video.status == DONE
    assert identity.copies[1:] == [(ts.video.video_id, stored.video_id)]
    assert identity.analysed == [stored.video_id]
    engine.dispose()


class CountingIdentity(CopyingIdentity):
    """CopyingIdentity that notes how many frames each analysed video sent."""

    def __init__(self, store: AnalyticsStore) -> None:
        super().__init__(store)
        self.frames: list[int] = []

    def AnalyzeVideo(self, frames, timeout=None):  # noqa: N802 - the stub's name
        frames = list(frames)
        self.frames.append(len(frames))
        return super().AnalyzeVideo(frames, timeout)


def test_a_picture_over_music_is_analysed_once_as_long_as_its_music_and_its_remux_is_copied(rig, tmp_path) -> None:
    """One picture over 5 s of music (tests/integration/test_pictures_over_audio.py): done, its one frame sent once,
    the person counted once in a 5 s video; its remux into Matroska is a copy of it, 5 s long too. Was: failed,
    `not a video (a single still frame)`, the person in the picture never counted."""
    pipeline, _, store = rig
    identity = pipeline.identity = CountingIdentity(store)
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.04", "-f",
                    "lavfi", "-i", "sine=duration=5", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    str(folder / "music.mp4")], check=True)
    remux_every_packet(folder / "music.mp4", folder / "repost.mkv")
    source = pipeline.process("music.mp4", 1.0, "", "", folder)
    repost = pipeline.process("repost.mkv", 2.0, "", "", folder)
    assert source.video.status == repost.video.status == DONE and source.video.error == ""
    assert identity.analysed == [source.video.video_id] and identity.frames == [1]
    assert identity.copies == [(repost.video.video_id, source.video.video_id)]
    assert [a.influencer_id for a in source.appearances] == [PERSON]
    for outcome in (source, repost):
        assert outcome.video.duration.ToTimedelta().total_seconds() == pytest.approx(5.0, abs=0.05)
    engine.dispose()


def test_an_av1_video_stored_under_its_decoders_name_is_found_by_its_remux_before_it_is_decoded(rig, tmp_path) -> None:
    """An AV1 video stored with the digest the release before wrote (`libdav1d:`, named by its decoder; rewritten here
    as that release left it): its WebM remux, digested `av1:` today, is copied from it before it is decoded, and the
    video keeps today's digest too, so its Matroska remux is known by that at once."""
    if "libdav1d" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libdav1d")
    pipeline, _, store = rig
    identity = pipeline.identity = CopyingIdentity(store)
    pipeline.settings = dataclasses.replace(pipeline.settings, sample_interval_s=0.02)  # too fine for a look
    engine = with_repost_store(pipeline, tmp_path)
    folder = tmp_path / "m"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-c:v",
                    "libaom-av1", "-cpu-used", "8", "-crf", "40", str(folder / "clip.mp4")], check=True)
    coded = coded_stream(folder / "clip.mp4")
    assert coded.digest is not None and coded.legacy is not None and coded.legacy.startswith("libdav1d:")
    stored = pipeline.process("clip.mp4", 1.0, "", "", folder).video
    with engine.begin() as conn:  # as the release before stored it
        conn.execute(sa.text("UPDATE ingest_stream_digests SET digest = :old WHERE video_id = :id"),
                     {"old": coded.legacy, "id": stored.video_id})
    webm = pipeline.process(remux_every_packet(folder / "clip.mp4", folder / "copy.webm").name, 2.0, "", "", folder)
    mkv = pipeline.process(remux_every_packet(folder / "clip.mp4", folder / "copy.mkv").name, 2.0, "", "", folder)
    assert stored.status == webm.video.status == mkv.video.status == DONE
    assert identity.analysed == [stored.video_id]
    assert identity.copies == [(webm.video.video_id, stored.video_id), (mkv.video.video_id, stored.video_id)]
    assert "decode" not in webm.stage_seconds and "decode" not in mkv.stage_seconds
    engine.dispose()
