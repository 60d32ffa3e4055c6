"""Two real ingest replicas (IngestProcess) on loopback sharing one PostgreSQL database and one identity +
analytics: the smoke corpus submitted to replica 1 is followed to its end through replica 2, both replicas
take its rows, every manifest row is counted once, and GetJob/ListJobs answer the same on both."""

import csv
import dataclasses

import pytest

from influencers.client import get_job, list_jobs, start_ingest, watch_job
from influencers.stack import start_stack
from influencers.v1 import common_pb2, ingest_pb2
from services.common.rpc import open_channel
from services.ingest.server import IngestProcess

T = 600


@pytest.fixture
def two_replicas(settings, postgres_url):
    shared = dataclasses.replace(settings, database_url=postgres_url, worker_name="ingest-1")
    stack = start_stack(shared, web=False)
    second = IngestProcess(dataclasses.replace(stack.settings, ingest_port=0, worker_name="ingest-2"))
    yield stack, second
    second.stop()
    stack.stop()


def test_a_job_submitted_to_one_replica_is_run_by_both_and_followed_to_its_end_through_the_other(
        two_replicas, corpus):
    stack, second = two_replicas
    smoke = corpus("smoke")
    one = open_channel(stack.settings.ingest_target)
    two = open_channel(f"127.0.0.1:{second.port}")
    job = start_ingest(one, smoke / "manifest.csv", T)

    results, ended = watch_job(two, job.job_id, T)

    assert ended.state == ingest_pb2.JOB_STATE_SUCCEEDED and ended.done == ended.total == job.total
    assert sorted(p.done for p in results) == list(range(1, job.total + 1)), "every row once, in order"
    assert get_job(one, job.job_id, T) == ended and [j.job_id for j in list_jobs(two, T)] == [job.job_id]
    with open(smoke / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(results) == len(rows), "every manifest row reported once"
    recorded = stack.store.list_videos()
    assert recorded and len(recorded) == len({str(v) for v in recorded}), "each manifest row recorded once"
    done = {p.video.video_id for p in results if p.video.status == common_pb2.VIDEO_STATUS_DONE}
    assert done, "the corpus' videos were analysed"
