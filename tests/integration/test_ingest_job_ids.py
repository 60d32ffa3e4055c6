"""Job ids a careless or hostile caller may send to ingest's job calls, called for real on both engines of the job
queue (SQLite in the data dir, PostgreSQL): each answer is a clear status, never INTERNAL. Before, a NUL
character in a job id reached PostgreSQL, which keeps no NUL in a text, and GetJob, CancelJob and WatchJob
answered INTERNAL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from influencers.v1 import ingest_pb2, ingest_pb2_grpc
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.settings import Settings
from tests.support.service_stubs import ingest_beside


@pytest.fixture(params=["sqlite", "postgresql"])
def ingest(request, tmp_path: Path) -> Iterator[ingest_pb2_grpc.IngestServiceStub]:
    database = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    settings = Settings(data_dir=tmp_path, analytics_port=0, ingest_port=0, identity_port=0, database_url=database)
    store = AnalyticsStore(database or tmp_path / "analytics.sqlite")
    analytics = serve_analytics(settings, store)
    with ingest_beside(settings, analytics.port) as stub:
        yield stub
    analytics.stop(grace_s=0.5)
    store.close()


def test_a_job_id_with_a_nul_character_is_refused_naming_it_by_every_job_call(ingest) -> None:
    calls = [
        (ingest.GetJob, ingest_pb2.GetJobRequest(job_id="6122a25f\x0093924333")),
        (ingest.CancelJob, ingest_pb2.CancelJobRequest(job_id="6122a25f\x0093924333")),
        (lambda request, timeout: list(ingest.WatchJob(request, timeout=timeout)),
         ingest_pb2.WatchJobRequest(job_id="6122a25f\x0093924333")),
    ]
    for call, request in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        assert caught.value.details() == r"job_id holds a NUL character ('6122a25f\x0093924333')"
    with pytest.raises(grpc.RpcError) as caught:
        ingest.GetJob(ingest_pb2.GetJobRequest(job_id="6122a25f93924333"), timeout=30)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
