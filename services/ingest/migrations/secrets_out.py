"""The job store without the link secrets today's rules find (services/common/url_secrets.py), inside a migration:
0005 (no secret at rest for a row that will not run again), and 0009 (the secret parameters' names added since,
the user name and password of a scheme-relative link). A running job's rows still to run keep their URL as given:
it is fetched."""

from __future__ import annotations

import sqlalchemy as sa

from influencers.v1 import ingest_pb2
from services.common.url_secrets import links_hidden
from services.ingest.job_store import DROPPED, ENDED, FINISHED, result_without_secrets, submission_without_secrets

BATCH = 500  # rows read at a time

rows_t = sa.table("ingest_rows", sa.column("job_id", sa.String), sa.column("idx", sa.Integer),
                  sa.column("state", sa.Integer), sa.column("submission", sa.LargeBinary),
                  sa.column("result", sa.LargeBinary))
jobs_t = sa.table("ingest_jobs", sa.column("job_id", sa.String), sa.column("state", sa.Integer),
                  sa.column("error", sa.Text))


def keep_no_secret(connection: sa.Connection) -> None:
    """Rewrites, on `connection`, the submission of every row finished or dropped, and of every row of an ended job,
    without its URL's secrets (job_store.submission_without_secrets); every stored result with its url hidden, its
    location keyed as analytics keys it and the links its error names hidden (job_store.result_without_secrets);
    a job's error with its links hidden. Only what changes is written; run again, it writes nothing."""
    ended = set(connection.execute(sa.select(jobs_t.c.job_id).where(jobs_t.c.state.in_(list(ENDED)))).scalars())
    after: tuple[str, int] = ("", -1)
    while True:
        rows = connection.execute(
            sa.select(rows_t.c.job_id, rows_t.c.idx, rows_t.c.state, rows_t.c.submission, rows_t.c.result)
            .where(sa.tuple_(rows_t.c.job_id, rows_t.c.idx) > sa.tuple_(*after))
            .order_by(rows_t.c.job_id, rows_t.c.idx).limit(BATCH)).all()
        for job_id, idx, state, submission, result in rows:
            changed = {}
            if submission is not None and (state in (FINISHED, DROPPED) or job_id in ended):
                sub = ingest_pb2.VideoSubmission.FromString(bytes(submission))
                if (kept := submission_without_secrets(sub)) != sub:
                    changed["submission"] = kept.SerializeToString()
            if result is not None:
                progress = ingest_pb2.WatchJobResponse.FromString(bytes(result))
                if (shown := result_without_secrets(progress)) != progress:
                    changed["result"] = shown.SerializeToString()
            if changed:
                connection.execute(rows_t.update().where(rows_t.c.job_id == job_id, rows_t.c.idx == idx)
                                   .values(**changed))
        if len(rows) < BATCH:
            break
        after = (rows[-1][0], int(rows[-1][1]))
    for job_id, error in connection.execute(sa.select(jobs_t.c.job_id, jobs_t.c.error)).all():
        if error and links_hidden(error) != error:
            connection.execute(jobs_t.update().where(jobs_t.c.job_id == job_id).values(error=links_hidden(error)))
