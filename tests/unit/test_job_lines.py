"""The line `influencers run` and `ingest` start a job with: its id and its number of videos, in words; and
the line `influencers jobs` lists a job with."""

from google.protobuf.timestamp_pb2 import Timestamp

from influencers.cli.jobs import job_line, job_started
from influencers.v1 import ingest_pb2


def test_a_job_of_one_video_says_video_and_the_jobs_ahead_are_counted_in_words():
    assert job_started("j1", 1, 0) == "job j1: 1 video"  # was "job j1: 1 videos"
    assert job_started("j1", 205, 0) == "job j1: 205 videos"
    assert job_started("j1", 3, 1) == "job j1: 3 videos, queued behind 1 job"
    assert job_started("j1", 3, 2) == "job j1: 3 videos, queued behind 2 jobs"


def test_a_resumed_job_says_it_is_the_same_manifests_left_unfinished_and_how_many_were_done_before():
    assert job_started("j1", 13, 0, 5) == ("job j1: 13 videos (resumed: the same manifest's job left unfinished, "
                                           "5 of 13 done before)")
    assert job_started("j1", 13, 0, 0).endswith("(resumed: the same manifest's job left unfinished, 0 of 13 done "
                                                "before)")


def test_a_listed_job_says_when_it_was_submitted_so_two_runs_of_one_manifest_are_told_apart():
    # Was: "b56554160b0a40fe  succeeded  5/5 videos (2 done, 3 duplicate)", the same for each run of the manifest
    job = ingest_pb2.Job(job_id="b56554160b0a40fe", state=ingest_pb2.JOB_STATE_SUCCEEDED, done=5, total=5,
                         statuses={"done": 2, "duplicate": 3}, create_time=Timestamp(seconds=1_796_557_200))
    assert job_line(job) == "b56554160b0a40fe  succeeded  2026-12-06 11:40 UTC  5/5 videos (2 done, 3 duplicate)"
    never = ingest_pb2.Job(job_id="j1", state=ingest_pb2.JOB_STATE_FAILED, total=3, error="manifest unreadable")
    assert job_line(never) == "j1  failed     -  0/3 videos  manifest unreadable"
