"""The ingest job queue (services/ingest/jobs.py) with a scripted job body instead of the pipeline: order,
replays, cancelling, failures and the bounded history."""

from __future__ import annotations

import threading

import pytest

from influencers.v1 import common_pb2, ingest_pb2
from services.ingest.jobs import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobQueue, JobRun


def request(n: int) -> ingest_pb2.StartIngestRequest:
    return ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url=f"v{k}.mp4") for k in range(n)])


def progress(url: str, status: int = common_pb2.VIDEO_STATUS_DONE) -> ingest_pb2.WatchJobResponse:
    return ingest_pb2.WatchJobResponse(
        video=common_pb2.Video(url=url, status=status),
        appearances=[common_pb2.Appearance(influencer_id="inf_a", face_ref="f1", best_face=b"jpeg")])


class Scripted:
    """A job body that publishes one video each time `step` is released, and records the jobs it ran."""

    def __init__(self) -> None:
        self.step = threading.Semaphore(0)
        self.ran: list[int] = []
        self.fail: str = ""

    def __call__(self, run: JobRun) -> None:
        self.ran.append(len(run.request.videos))
        for sub in run.request.videos:
            if not self._next(run):
                break
            if self.fail:
                raise RuntimeError(self.fail)
            run.publish(progress(sub.url))
        run.set_changed_videos(7)

    def _next(self, run: JobRun) -> bool:
        """Waits for a step; False when the job is cancelled first (the next video is then not started)."""
        while not self.step.acquire(timeout=0.01):
            if run.cancelled:
                return False
        return True

    def release(self, n: int) -> None:
        for _ in range(n):
            self.step.release()


@pytest.fixture
def body():
    return Scripted()


@pytest.fixture
def queue(body):
    jobs = JobQueue(body, keep=3)
    yield jobs
    body.release(100)
    jobs.stop(timeout_s=5)


def wait_state(queue: JobQueue, job_id: str, *states: int) -> ingest_pb2.Job:
    for _ in range(500):
        job = queue.get(job_id)
        assert job is not None
        if job.state in states:
            return job
        threading.Event().wait(0.01)
    raise AssertionError(f"job {job_id} never reached {states}")


def test_a_started_job_is_queued_at_once_and_jobs_run_one_at_a_time_in_order(queue, body) -> None:
    first, second = queue.start(request(2)), queue.start(request(1))
    assert first.state == second.state == QUEUED and first.total == 2
    wait_state(queue, first.job_id, RUNNING)
    assert [j.state for j in queue.list()] == [RUNNING, QUEUED]
    body.release(3)
    assert wait_state(queue, second.job_id, SUCCEEDED).done == 1
    assert body.ran == [2, 1]
    job = queue.get(first.job_id)
    assert job.state == SUCCEEDED and job.statuses == {"done": 2} and job.changed_videos == 7


def test_a_watch_replays_the_progress_so_far_then_follows_until_the_job_ends(queue, body) -> None:
    job = queue.start(request(3))
    body.release(1)
    first = next(queue.watch(job.job_id))
    assert first.done == 1 and first.total == 3
    stream = queue.watch(job.job_id)
    assert next(stream).video.url == "v0.mp4"  # replayed
    body.release(2)
    assert [p.done for p in stream] == [2, 3]
    assert [p.video.url for p in queue.watch(job.job_id, skip=2)] == ["v2.mp4"]


def test_replayed_progress_keeps_the_face_ref_but_not_the_crop_bytes(queue, body) -> None:
    job = queue.start(request(1))
    body.release(1)
    (only,) = list(queue.watch(job.job_id))
    assert only.appearances[0].face_ref == "f1" and only.appearances[0].best_face == b""


def test_a_watcher_whose_caller_left_stops_and_the_job_goes_on(queue, body) -> None:
    job = queue.start(request(2))
    gone = threading.Event()
    stream = queue.watch(job.job_id, caller_active=lambda: not gone.is_set())
    gone.set()
    assert list(stream) == []
    body.release(2)
    assert wait_state(queue, job.job_id, SUCCEEDED).done == 2


def test_cancelling_a_queued_job_ends_it_at_once_and_it_never_runs(queue, body) -> None:
    running, waiting = queue.start(request(1)), queue.start(request(5))
    cancelled = queue.cancel(waiting.job_id)
    assert cancelled.state == CANCELLED and cancelled.cancel_requested
    body.release(1)
    wait_state(queue, running.job_id, SUCCEEDED)
    assert body.ran == [1]


def test_cancelling_a_running_job_starts_no_more_videos(queue, body) -> None:
    job = queue.start(request(4))
    body.release(1)
    wait_state(queue, job.job_id, RUNNING)
    next(queue.watch(job.job_id))
    queue.cancel(job.job_id)
    body.release(1)  # the video in flight finishes
    ended = wait_state(queue, job.job_id, CANCELLED)
    assert 1 <= ended.done < 4 and ended.changed_videos == 7


def test_a_failing_job_records_why_and_the_next_one_still_runs(queue, body) -> None:
    body.fail = "identity unavailable"
    bad = queue.start(request(1))
    body.release(1)
    failed = wait_state(queue, bad.job_id, FAILED)
    assert "identity unavailable" in failed.error
    body.fail = ""
    good = queue.start(request(1))
    body.release(1)
    assert wait_state(queue, good.job_id, SUCCEEDED).done == 1


def test_only_the_newest_ended_jobs_are_kept(queue, body) -> None:
    ids = []
    for _ in range(5):
        job = queue.start(request(1))
        body.release(1)
        wait_state(queue, job.job_id, SUCCEEDED)
        ids.append(job.job_id)
    assert [j.job_id for j in queue.list()] == ids[-3:]
    assert queue.get(ids[0]) is None and queue.watch(ids[0]) is None and queue.cancel(ids[0]) is None


def test_stopping_cancels_the_queued_jobs_and_lets_the_running_one_finish(body) -> None:
    jobs = JobQueue(body)
    running, waiting = jobs.start(request(2)), jobs.start(request(2))
    wait_state(jobs, running.job_id, RUNNING)
    body.release(1)
    jobs.stop(timeout_s=5)
    assert jobs.get(waiting.job_id).state == CANCELLED
    assert jobs.get(running.job_id).state == CANCELLED and jobs.get(running.job_id).done >= 1
    with pytest.raises(RuntimeError):
        jobs.start(request(1))
