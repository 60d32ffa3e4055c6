"""A job stopped on a full disk hands back the rows it dropped, for the runner to record as not processed: only
those. On PostgreSQL a claim taking a row at that moment (its row locked, not yet committed) left the row running
while stop() listed it as dropped too, so it was recorded twice: processed, and "not processed"."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from influencers.v1 import ingest_pb2
from services.common.database import database_url, open_engine
from services.ingest.job_store import PENDING, TAKEN, JobStore, migrate, rows_t


def test_a_row_a_claim_takes_while_the_job_stops_is_not_among_the_rows_stop_dropped(postgres_url, tmp_path: Path):
    engine = open_engine(database_url(postgres_url, tmp_path / "unused"))
    try:
        migrate(engine)
        store = JobStore(engine)
        job = store.submit(ingest_pb2.StartIngestRequest(videos=[
            ingest_pb2.VideoSubmission(url=f"https://cdn.example/{k}.mp4") for k in range(3)]), {})
        assert store.claim_row("replica-a") is not None  # the job is running: a claim no longer writes its row
        dropped: list[int] = []
        with engine.connect() as claiming:
            taking = claiming.begin()  # another replica's claim of row 2, not yet committed
            claiming.execute(sa.select(rows_t.c.idx).where(rows_t.c.job_id == job.job_id, rows_t.c.idx == 1,
                                                           rows_t.c.state == PENDING).with_for_update())
            claiming.execute(rows_t.update().where(rows_t.c.job_id == job.job_id, rows_t.c.idx == 1)
                             .values(state=TAKEN, lease_owner="replica-b", lease_expires_s=time.time() + 30))
            stopping = threading.Thread(target=lambda: dropped.extend(c.idx for c in store.stop(job.job_id)))
            stopping.start()
            stopping.join(timeout=1.0)  # it waits for the claim's row
            taking.commit()
            stopping.join(timeout=10)
        assert not stopping.is_alive()
        assert dropped == [2]
    finally:
        engine.dispose()
