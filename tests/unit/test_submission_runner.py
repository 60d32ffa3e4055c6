"""How the job queue's row runner (services/ingest/submission.py) treats a row taken again after attempts that
died: the video a dead attempt had started is forgotten unless it was recorded done, and a row given up
(jobs.given_up) is failed unless that attempt had finished its video. Fakes of the pipeline and the ports."""

from __future__ import annotations

from types import SimpleNamespace

import grpc

from influencers.v1 import analytics_pb2, common_pb2, ingest_pb2
from services.common.row_keys import manifest_row_key
from services.ingest.job_store import Claim
from services.ingest.jobs import DEAD_ATTEMPTS, given_up
from services.ingest.pipeline import Outcome
from services.ingest.submission import SubmissionRunner
from tests.support.rpc_errors import FakeRpcError


class Pipeline:
    """Runs nothing: hears the row error each row is given."""

    def __init__(self) -> None:
        self.row_errors: list[str] = []
        self.row_keys: list[str] = []
        self.kept_apart: list[bool] = []

    def process(self, url, performance, external_id, row_error, base_dir, on_video_id=None, repeats=0,
                row_key="", kept_apart=False) -> Outcome:
        self.row_errors.append(row_error)
        self.row_keys.append(row_key)
        self.kept_apart.append(kept_apart)
        status = common_pb2.VIDEO_STATUS_FAILED if row_error else common_pb2.VIDEO_STATUS_DONE
        return Outcome(common_pb2.Video(url=url, status=status, error=row_error, video_id="v1"), recorded=False)


class Records:
    """The analytics stub's GetVideo over a set of videos recorded done."""

    def __init__(self, done: set[str]) -> None:
        self.done = done

    def GetVideo(self, request: analytics_pb2.GetVideoRequest, timeout: float) -> SimpleNamespace:  # noqa: N802
        if request.video_id not in self.done:
            raise FakeRpcError(grpc.StatusCode.NOT_FOUND, f"video {request.video_id} not found")
        return SimpleNamespace(video=common_pb2.Video(video_id=request.video_id, status=common_pb2.VIDEO_STATUS_DONE))


class Identity:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def forget_video(self, video_id: str) -> None:
        self.forgotten.append(video_id)


def run(done: set[str], attempts: int, row_error: str = "", elsewhere: bool = False) -> tuple[Pipeline, Identity]:
    pipeline, identity = Pipeline(), Identity()
    runner = SubmissionRunner(pipeline, identity, None, Records(done), "w", 5.0,  # type: ignore[arg-type]
                              analysed_elsewhere=lambda claim: elsewhere)
    claim = Claim("job", 0, ingest_pb2.VideoSubmission(url="a.mp4", row_error=row_error), "/m", attempts, "v1")
    runner.run_row(claim, lambda video_id: None)
    return pipeline, identity


def test_a_row_given_up_is_failed_and_what_its_dead_attempt_started_forgotten() -> None:
    pipeline, identity = run(done=set(), attempts=DEAD_ATTEMPTS + 1)
    assert pipeline.row_errors == [given_up(DEAD_ATTEMPTS + 1)] and identity.forgotten == ["v1"]


def test_a_row_whose_last_dead_attempt_had_recorded_its_video_done_is_not_given_up() -> None:
    # Its attempt died between recording the video and finishing the row: the row is done, not failed.
    pipeline, identity = run(done={"v1"}, attempts=DEAD_ATTEMPTS + 1)
    assert pipeline.row_errors == [""] and identity.forgotten == []


def test_a_row_taken_again_within_its_attempts_runs() -> None:
    pipeline, identity = run(done=set(), attempts=DEAD_ATTEMPTS)
    assert pipeline.row_errors == [""] and identity.forgotten == ["v1"]


def test_a_row_taken_again_leaves_its_dead_attempts_video_when_another_live_row_analyses_the_same_bytes() -> None:
    # Before, it forgot the video while the other row (the same bytes in another job) was between its analysis
    # and its record: that row then recorded the video done with no faces in identity, its people gone for good.
    pipeline, identity = run(done=set(), attempts=2, elsewhere=True)
    assert pipeline.row_errors == [""] and identity.forgotten == [], "the row runs, and analyses the video again"


def test_a_row_given_up_that_had_its_own_error_fails_with_that_error() -> None:
    pipeline, _ = run(done=set(), attempts=DEAD_ATTEMPTS + 1, row_error="manifest.csv line 2: score is negative")
    assert pipeline.row_errors == ["manifest.csv line 2: score is negative"]


def test_a_row_is_given_its_manifest_row_key_for_analytics_to_record_it_without_a_url() -> None:
    pipeline = Pipeline()
    runner = SubmissionRunner(pipeline, Identity(), None, Records(set()), "w", 5.0)  # type: ignore[arg-type]
    for claim in (Claim("job", 3, ingest_pb2.VideoSubmission(url="", line=5), "/m", 1, ""),
                  Claim("job", 3, ingest_pb2.VideoSubmission(url=""), "/m", 1, ""),
                  Claim("job", 3, ingest_pb2.VideoSubmission(url="", line=5, manifest="week1.csv"), "/m", 1, ""),
                  Claim("job", 3, ingest_pb2.VideoSubmission(url="", line=5, manifest="week2.csv"), "/m/", 1, "")):
        runner.run_row(claim, lambda video_id: None)
    assert pipeline.row_keys[:2] == [manifest_row_key("/m", 5, 3), manifest_row_key("/m", 0, 3)]
    # Two manifests of one folder: their rows of one line shared a key, and the second overwrote the first.
    assert pipeline.row_keys == ["manifest-row:/m:line 5", "manifest-row:/m:row 4", "manifest-row:/m/week1.csv:line 5",
                                 "manifest-row:/m/week2.csv:line 5"]


def test_a_failing_row_kept_apart_from_another_row_of_its_file_is_run_to_be_recorded_under_its_manifest_row() -> None:
    pipeline = Pipeline()
    runner = SubmissionRunner(pipeline, Identity(), None, Records(set()), "w", 5.0)  # type: ignore[arg-type]
    sub = ingest_pb2.VideoSubmission(url="a.mp4", line=4, row_error="line 4: performance is missing", kept_apart=True)
    good = ingest_pb2.VideoSubmission(url="a.mp4")
    for claim in (Claim("job", 2, sub, "/m", 1, ""), Claim("job", 0, good, "/m", 1, "")):
        runner.run_row(claim, lambda video_id: None)
    assert pipeline.kept_apart == [True, False] and pipeline.row_keys[0] == "manifest-row:/m:line 4"
