"""Following a job from the CLI against a scripted ingest service over real gRPC on loopback: the summary is
built as the progress messages arrive, and none of them is kept (a million-row job held 1.4 GB)."""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
import pytest

from influencers.cli import jobs
from influencers.client import JobStalled, watch_job
from influencers.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

FAILED, DONE = common_pb2.VIDEO_STATUS_FAILED, common_pb2.VIDEO_STATUS_DONE


class Scripted(ingest_pb2_grpc.IngestServiceServicer):
    """A job of `rows` rows (every third done, the others failed) whose first stream ends halfway, as a
    server's maximum connection age ends one; `skips` records where each stream was asked to start."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.skips: list[int] = []

    def WatchJob(self, request, context):  # noqa: N802 - the service's name
        self.skips.append(request.skip)
        end = self.rows // 2 if len(self.skips) == 1 else self.rows
        for k in range(request.skip, end):
            status = DONE if k % 3 == 0 else FAILED
            video = common_pb2.Video(url=f"v{k}.mp4", status=status, error="" if status == DONE else f"v{k}.mp4: gone")
            yield ingest_pb2.WatchJobResponse(video=video, already_counted=k == 0, done=k + 1, total=self.rows)

    def GetJob(self, request, context):  # noqa: N802
        state = ingest_pb2.JOB_STATE_SUCCEEDED if len(self.skips) > 1 else ingest_pb2.JOB_STATE_RUNNING
        return ingest_pb2.GetJobResponse(job=ingest_pb2.Job(job_id="j", state=state, total=self.rows, done=self.rows))


@pytest.fixture
def service():
    def start(rows: int, kind: type[Scripted] = Scripted) -> tuple[Scripted, grpc.Channel]:
        scripted = kind(rows)
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(scripted, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        channels.append(grpc.insecure_channel(f"127.0.0.1:{port}"))
        return scripted, channels[-1]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    channels: list[grpc.Channel] = []
    yield start
    for channel in channels:
        channel.close()
    server.stop(0)


def test_a_watch_that_keeps_nothing_still_hears_every_message_once_across_a_reopened_stream(service):
    scripted, channel = service(10)
    heard = []
    kept, job = watch_job(channel, "j", 30, heard.append, keep=False)
    assert kept == [] and job.state == ingest_pb2.JOB_STATE_SUCCEEDED
    assert [p.video.url for p in heard] == [f"v{k}.mp4" for k in range(10)]
    assert scripted.skips == [0, 5], "reopened where it stopped"


def test_following_a_job_sums_it_up_from_the_messages_as_they_come(service, capsys):
    _, channel = service(3_000)
    tally = jobs.Tally()
    assert jobs._follow(channel, "j", tally, 3_000, json_logs=True) == 1
    out = capsys.readouterr().out
    assert "videos: 1000 done (1 counted before: not analysed again), 2000 failed\n" in out
    # Each failed row was shown as it failed; the summary lists the first ones again, then how many more.
    assert out.count("  failed: v") == jobs.FAILURES_LISTED and "  failed: v1.mp4: gone\n" in out
    assert f"  ... and {2_000 - jobs.FAILURES_LISTED} more failed rows" in out
    assert tally.seen == 3_000 and tally.failed == 2_000 and len(tally.failures) == jobs.FAILURES_LISTED



class Stalled(Scripted):
    """A job whose stream ends after its first rows because the replica's job store met a full disk."""

    def GetJob(self, request, context):  # noqa: N802
        return ingest_pb2.GetJobResponse(job=ingest_pb2.Job(
            job_id="j", state=ingest_pb2.JOB_STATE_RUNNING, total=self.rows, done=self.rows // 2,
            stalled="disk full: the ingest job store could not be written (database or disk is full)"))


def test_a_stalled_job_ends_the_follow_with_one_line_saying_what_to_do_as_the_command_can(service):
    # Before, `influencers run` on a disk filled to its last byte showed a still progress bar for good.
    _, channel = service(4, Stalled)
    heard = []
    with pytest.raises(JobStalled) as stalled:
        watch_job(channel, "j", 30, heard.append, keep=False)
    assert len(heard) == 2, "the rows done before the stall were heard"
    said = str(jobs.stalled_error(stalled.value, resumes_itself=False))
    assert said == ("ingest job j cannot go on: disk full: the ingest job store could not be written (database or "
                    "disk is full); free some space and run the same command again to resume")
    assert str(jobs.stalled_error(stalled.value, resumes_itself=True)).endswith(
        "free some space: the job goes on by itself (follow it: influencers jobs j)")
    # The command it suggests reaches ingest where the follower did (was: the default port, whatever it used).
    assert str(jobs.stalled_error(stalled.value, resumes_itself=True, where=" --ingest-port 50054")).endswith(
        "(follow it: influencers jobs j --ingest-port 50054)")


class StoppedOnAFullDisk(Scripted):
    """A job of 3 rows that ingest stopped (cancelled) when its second row met a full disk."""

    def WatchJob(self, request, context):  # noqa: N802 - the service's name
        self.skips.append(request.skip)
        yield ingest_pb2.WatchJobResponse(video=common_pb2.Video(url="disk full.mp4", status=DONE), done=1, total=3)
        error = ("b.mp4: identity.AnalyzeVideo failed: RESOURCE_EXHAUSTED video 66dcd234f241ea36: disk full: the disk "
                 "of DATA/qdrant/edge has 0.0 MiB free, under the 256 MiB kept free (INFLUENCERS_MIN_FREE_BYTES): "
                 "storing a crop record refused; free some space and run again")
        yield ingest_pb2.WatchJobResponse(video=common_pb2.Video(url="b.mp4", status=FAILED, error=error), done=2,
                                          total=3)

    def GetJob(self, request, context):  # noqa: N802
        return ingest_pb2.GetJobResponse(job=ingest_pb2.Job(job_id="j", state=ingest_pb2.JOB_STATE_CANCELLED,
                                                            total=3, done=2))


def test_a_job_stopped_by_a_full_disk_ends_saying_so_and_how_to_resume(service, capsys):
    _, channel = service(3, StoppedOnAFullDisk)
    assert jobs._follow(channel, "j", jobs.Tally(), 3) == 1
    said = capsys.readouterr().err
    assert ("job j was cancelled after 2 of 3 videos: disk full (the failed row above says where); free some space "
            "and run the same command again to resume") in said


def test_a_cancelled_job_whose_file_is_named_disk_full_is_said_cancelled(service, capsys):
    class Cancelled(StoppedOnAFullDisk):
        def WatchJob(self, request, context):  # noqa: N802 - the service's name
            yield ingest_pb2.WatchJobResponse(video=common_pb2.Video(
                url="disk full.mp4", status=FAILED, error="disk full.mp4: HTTP 404 (not found)"), done=1, total=3)

    _, channel = service(3, Cancelled)
    jobs._follow(channel, "j", jobs.Tally(), 3)
    said = capsys.readouterr().err
    assert "job j was cancelled after 2 of 3 videos\n" in said and "free some space" not in said


def test_with_json_logs_a_failed_row_is_a_record_naming_its_job_and_url_as_fields(service, caplog):
    # Before, the record was its text alone ("FAILED  v1.mp4: gone"): no job_id to tell two jobs' rows apart.
    _, channel = service(3)
    caplog.set_level(logging.WARNING, logger="influencers.cli")
    jobs._follow(channel, "j", jobs.Tally(), 3, json_logs=True)
    failed = [r for r in caplog.records if r.getMessage().startswith("FAILED")]
    assert [(r.job_id, r.url, r.reason) for r in failed] == [("j", "v1.mp4", "v1.mp4: gone"),
                                                              ("j", "v2.mp4", "v2.mp4: gone")]


def test_with_json_logs_the_line_of_a_job_that_ends_stopped_names_the_job_as_a_field(service, caplog):
    # Its text named it alone ("job j was cancelled after ..."): a JSON log filtered on job_id lost how it ended.
    _, channel = service(3, StoppedOnAFullDisk)
    caplog.set_level(logging.INFO, logger="influencers.cli")
    jobs._follow(channel, "j", jobs.Tally(), 3, json_logs=True)
    ended = [r for r in caplog.records if r.name == "influencers.cli" and r.getMessage().startswith("job j was")]
    assert len(ended) == 1 and ended[0].job_id == "j" and ended[0].levelno == logging.ERROR
