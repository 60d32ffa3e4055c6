"""Media times as Durations: every stored result of a row (a WatchJobResponse: the video's duration, its
appearances' times and segments, the time spent by stage) written before them is rewritten with its times in
the Duration fields (services/common/legacy_times.py). Submissions (VideoSubmission) carry no time and stay
as they are. A job that was running goes on after the upgrade with every finished row's result intact, and
WatchJob replays the old rows with their times.

Revision ID: 0004_media_times_as_durations
"""

import sqlalchemy as sa
from alembic import op

from influencers.v1 import ingest_pb2
from services.common.legacy_times import upgrade_media_times

revision = "0004_media_times_as_durations"
down_revision = "0003_stream_digests"
branch_labels = None
depends_on = None

BATCH = 500  # rows read at a time

rows_t = sa.table("ingest_rows", sa.column("job_id", sa.String), sa.column("idx", sa.Integer),
                  sa.column("result", sa.LargeBinary))


def upgrade() -> None:
    connection = op.get_bind()
    after: tuple[str, int] = ("", -1)
    while True:
        rows = connection.execute(
            sa.select(rows_t.c.job_id, rows_t.c.idx, rows_t.c.result)
            .where(rows_t.c.result.is_not(None), sa.tuple_(rows_t.c.job_id, rows_t.c.idx) > sa.tuple_(*after))
            .order_by(rows_t.c.job_id, rows_t.c.idx).limit(BATCH)).all()
        for job_id, idx, blob in rows:
            result = ingest_pb2.WatchJobResponse.FromString(bytes(blob))
            if upgrade_media_times(result):
                connection.execute(rows_t.update().where(rows_t.c.job_id == job_id, rows_t.c.idx == idx)
                                   .values(result=result.SerializeToString()))
        if len(rows) < BATCH:
            return
        after = (rows[-1][0], int(rows[-1][1]))


def downgrade() -> None:
    raise NotImplementedError("results with Durations cannot go back to double seconds: restore a backup")
