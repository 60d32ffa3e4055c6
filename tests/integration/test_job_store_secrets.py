"""Ingest's job store keeps no link's secret for a row that will not run again, after the upgrade too (migration
0005), on SQLite and on a real PostgreSQL server: a job that ended before signed links were masked kept its rows'
links as given (submissions, results that WatchJob replays, its error), and every result's location kept a token
in the link's path. Now they are hidden (digested in the location); a running job's row still to run keeps its
link as given, since it is fetched."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from influencers.v1 import common_pb2, ingest_pb2
from services.common.database import database_url, open_engine
from services.common.location_key import location_key
from services.common.url_secrets import secrets_hidden
from services.ingest.job_store import (
    DROPPED,
    FINISHED,
    HISTORY,
    PENDING,
    RUNNING,
    SUCCEEDED,
    JobStore,
    jobs_t,
    migrate,
    rows_t,
)
from services.ingest.pipeline import resolve_location

BEFORE = "0004_media_times_as_durations"  # the head of the release before
ENDED_JOB, RUNNING_JOB = "0123456789abcdef", "fedcba9876543210"
DONE_LINK = "https://cdn.example/token=hunter2path/a.mp4?X-Amz-Signature=hunter2sig"
DROPPED_LINK = "https://cdn.example/b.mp4?token=hunter2drop"
RUN_DONE_LINK = "https://cdn.example/sig/hunter2run/c.mp4"
PENDING_LINK = "https://cdn.example/d.mp4?sig=hunter3pending"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return database_url("", tmp_path / "ingest" / "jobs.sqlite3")
    return database_url(request.getfixturevalue("postgres_url"), tmp_path / "unused")


def result(link: str, error: str = "") -> bytes:
    """A row's result as the release before the masking stored it: the link as given, as url and location."""
    video = common_pb2.Video(url=link, location=link, status=common_pb2.VIDEO_STATUS_DONE, video_id="00000000000000aa",
                             error=error)
    return ingest_pb2.WatchJobResponse(video=video, done=1, total=2).SerializeToString()


def old_queue(db_url: str, before: str = BEFORE, done_link: str = DONE_LINK, dropped_link: str = DROPPED_LINK,
              run_done_link: str = RUN_DONE_LINK, pending_link: str = PENDING_LINK,
              done_result: bytes | None = None) -> None:
    """A job store at revision `before`: an ended job (a finished and a dropped row), and a running one (a finished
    row and one still to run), each row's link, result and the ended job's error as that release kept them."""
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            command.upgrade(HISTORY.config(conn), before)
            for job_id, state, error in ((ENDED_JOB, SUCCEEDED, f"reconcile failed after {done_link}: boom"),
                                         (RUNNING_JOB, RUNNING, "")):
                conn.execute(jobs_t.insert().values(
                    job_id=job_id, state=state, total=2, done=1, base_dir="/m", created_s=1.0, started_s=2.0,
                    ended_s=3.0 if state == SUCCEEDED else 0.0, error=error, cancel_requested=False,
                    changed_videos=0, finalizer=None, finalizer_expires_s=0.0))
            done_result = done_result or result(done_link, f"warning: {done_link}: cut short")
            for job_id, idx, link, state, kept in (
                    (ENDED_JOB, 0, done_link, FINISHED, done_result),
                    (ENDED_JOB, 1, dropped_link, DROPPED, None),
                    (RUNNING_JOB, 0, run_done_link, FINISHED, result(run_done_link)),
                    (RUNNING_JOB, 1, pending_link, PENDING, None)):
                conn.execute(rows_t.insert().values(
                    job_id=job_id, idx=idx, submission=ingest_pb2.VideoSubmission(url=link).SerializeToString(),
                    state=state, lease_owner=None, lease_expires_s=0.0, attempts=1, video_id="",
                    processed_video_id="", status="done" if kept else "", done_seq=1 if kept else None,
                    result=kept))
    finally:
        engine.dispose()


def stored(db_url: str, tmp_path: Path) -> bytes:
    """What the store holds: the SQLite files' bytes (closed), or PostgreSQL's rows."""
    if db_url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in (tmp_path / "ingest").glob("jobs.sqlite3*"))
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            return repr([conn.execute(sa.select(t)).all() for t in (jobs_t, rows_t)]).encode()
    finally:
        engine.dispose()


def migrated_and_replayed(engine: sa.Engine) -> tuple[JobStore, list]:
    """The old queue migrated, and what WatchJob replays of its ended and its running job: no secret in it, nor
    in the ended job itself."""
    migrate(engine)
    store = JobStore(engine)
    replayed = [store.results(job_id) for job_id in (ENDED_JOB, RUNNING_JOB)]
    answers = repr(replayed) + repr(store.get(ENDED_JOB))
    assert "hunter2" not in answers, answers
    return store, replayed


def test_rows_that_will_not_run_again_lose_their_links_secrets_and_a_row_still_to_run_keeps_its_link(
        db_url, tmp_path) -> None:
    old_queue(db_url)
    engine = open_engine(db_url)
    try:
        store, replayed = migrated_and_replayed(engine)
        (done,), _ = replayed[0]
        assert done.video.url == "https://cdn.example/token=***/a.mp4?X-Amz-Signature=***"
        assert done.video.location == location_key(DONE_LINK) and done.video.error.endswith("***: cut short")
        claim = store.claim_row("replica:nonce")
        assert claim is not None and (claim.job_id, claim.idx, claim.submission.url) == (RUNNING_JOB, 1, PENDING_LINK)
        migrate(engine)  # again: nothing changes
    finally:
        engine.dispose()
    held = stored(db_url, tmp_path)
    assert b"hunter2" not in held and b"hunter3pending" in held


# Names hidden since analytics 0014 (`pwd`, `token[]`) and 0015 (`code`, `st`, `hdntl`); a link given without its
# scheme, read as a local path (its key the path resolved, its error naming it), with its password.
NAMED_LINK = "https://cdn.example/a.mp4?code=hunter2code&pwd=hunter2pwd&token[]=hunter2arr&id=7"
SCHEMELESS_LINK = "//ann:hunter2pw@cdn.example/b.mp4"
ST_LINK = "https://cdn.example/c.mp4;jsessionid=hunter2sess?hdntl=hunter2hls"
ST_PENDING_LINK = "https://cdn.example/d.mp4?st=hunter3pending"


def schemeless_result() -> bytes:
    """The finished row of a link given without its scheme, as the release before stored it: read as a local path."""
    video = common_pb2.Video(url=SCHEMELESS_LINK, location="/ann:hunter2pw@cdn.example/b.mp4",
                             status=common_pb2.VIDEO_STATUS_FAILED,
                             error=f"{SCHEMELESS_LINK}: file not found (read as a path: a web address is given whole, "
                                   "with its https://)")
    return ingest_pb2.WatchJobResponse(video=video, done=1, total=2).SerializeToString()


def test_rows_that_ended_before_the_newer_secret_names_lose_those_secrets_too_and_a_row_still_to_run_keeps_its_link(
        db_url, tmp_path) -> None:
    # Migration 0009. Before, a store past 0005 kept them as given: the job store of every job that ended before the
    # names were added to url_secrets (the submissions, the results WatchJob replays, the job's error).
    old_queue(db_url, "0008_finalising_since", done_link=SCHEMELESS_LINK, dropped_link=NAMED_LINK,
              run_done_link=ST_LINK, pending_link=ST_PENDING_LINK, done_result=schemeless_result())
    engine = open_engine(db_url)
    try:
        store, replayed = migrated_and_replayed(engine)
        (done,), _ = replayed[0]
        assert (done.video.url, done.video.location) == ("//***@cdn.example/b.mp4", "/***@cdn.example/b.mp4")
        assert done.video.error.startswith("//***@cdn.example/b.mp4: file not found")
        (run_done,), _ = replayed[1]
        assert run_done.video.url == "https://cdn.example/c.mp4;jsessionid=***?hdntl=***"
        claim = store.claim_row("replica:nonce")
        assert claim is not None and claim.submission.url == ST_PENDING_LINK, "a row still to run keeps its link"
        migrate(engine)  # again: nothing changes
    finally:
        engine.dispose()
    held = stored(db_url, tmp_path)
    assert b"hunter2" not in held and b"hunter3pending" in held


SCHEMELESS_TOKEN_LINK = "//cdn.example/e.mp4?token=hunter2query"


def test_a_schemeless_links_token_leaves_a_stored_results_location_and_the_cell_run_again_keys_the_same(
        db_url, tmp_path) -> None:
    # Migration 0010. Before, a link given without its scheme was read as a local path, and its result's location was
    # that path resolved with the token as given (`/cdn.example/e.mp4?token=...`), replayed by WatchJob.
    video = common_pb2.Video(url=SCHEMELESS_TOKEN_LINK, location="/cdn.example/e.mp4?token=hunter2query",
                             status=common_pb2.VIDEO_STATUS_FAILED,
                             error="//cdn.example/e.mp4?token=***: file not found")
    old_queue(db_url, "0009_more_secret_names", done_link=SCHEMELESS_TOKEN_LINK,
              done_result=ingest_pb2.WatchJobResponse(video=video, done=1, total=2).SerializeToString())
    engine = open_engine(db_url)
    try:
        _, replayed = migrated_and_replayed(engine)
        (done,), _ = replayed[0]
        assert done.video.url == "//cdn.example/e.mp4?token=***"
        assert done.video.location == resolve_location(SCHEMELESS_TOKEN_LINK, Path("/m")), "as the cell is keyed today"
        assert done.video.location.startswith("/cdn.example/e.mp4?token=sha256-")
        migrate(engine)  # again: nothing changes
    finally:
        engine.dispose()
    assert b"hunter2query" not in stored(db_url, tmp_path)


def log_and_file(db_path: Path) -> bytes:
    """The bytes of the SQLite database and its write-ahead log, read while the store is open (as a process serving
    jobs holds them)."""
    return b"".join(p.read_bytes() for p in (db_path, db_path.with_name(db_path.name + "-wal")) if p.exists())


def test_a_finished_rows_link_secret_is_in_neither_the_sqlite_file_nor_its_log_while_the_store_is_open(
        tmp_path) -> None:
    # Was: the row's table held it no more, but the log's older page images did until a checkpoint came (1,000
    # pages of writes later), and the log's file kept them past that until overwritten
    db_path = tmp_path / "ingest" / "jobs.sqlite3"
    links = ["https://cdn.example/a.mp4?X-Amz-Signature=hunter2first", "https://cdn.example/b.mp4?sig=hunter2second"]
    engine = open_engine(database_url("", db_path))
    try:
        migrate(engine)
        store = JobStore(engine)
        store.log_scrubber.clock = lambda: 0.0  # one instant: the second row ends within the second of the first
        store.submit(ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url=u) for u in links],
                                                   base_dir="/m"), {})
        for k, link in enumerate(links):
            claim = store.claim_row("replica:nonce")
            assert claim is not None and claim.submission.url == link
            for _ in range(5):  # its lease renewed as a long video runs: more page images of the row
                store.renew("replica:nonce")
            video = common_pb2.Video(url=secrets_hidden(link), status=common_pb2.VIDEO_STATUS_DONE)
            assert store.finish_row(claim, ingest_pb2.WatchJobResponse(video=video))
            assert b"hunter2first" not in log_and_file(db_path), f"after row {k}"
        assert b"hunter2second" in log_and_file(db_path), "emptied at most once a second, and at its job's end"
        final = store.claim_finalize("replica:nonce")
        assert final is not None and store.end_job(final.job_id, final.lease)
        held = log_and_file(db_path)
        assert b"hunter2" not in held and b"cdn.example" in held
    finally:
        engine.dispose()
