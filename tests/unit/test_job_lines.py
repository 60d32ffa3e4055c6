"""The line `influencers run` and `ingest` start a job with: its id and its number of videos, in words."""

from influencers.cli.jobs import job_started


def test_a_job_of_one_video_says_video_and_the_jobs_ahead_are_counted_in_words():
    assert job_started("j1", 1, 0) == "job j1: 1 video"  # was "job j1: 1 videos"
    assert job_started("j1", 205, 0) == "job j1: 205 videos"
    assert job_started("j1", 3, 1) == "job j1: 3 videos, queued behind 1 job"
    assert job_started("j1", 3, 2) == "job j1: 3 videos, queued behind 2 jobs"
