"""Ingest jobs over real gRPC on loopback with the smoke corpus: a job runs on without its watcher and
reconciles; reopening the watch replays, then follows; a second job queues visibly; cancelling works."""

import csv
import time

import grpc
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from influencers import client
from influencers.cli import main
from influencers.client import cancel_job, get_job, list_jobs, start_ingest, watch_job
from influencers.v1 import common_pb2, identity_pb2_grpc, ingest_pb2, ingest_pb2_grpc
from services.analytics.export import export_report
from services.common.clients import GrpcIdentity
from services.common.protoconv import seconds
from services.common.rpc import open_channel
from services.ingest.server import MAX_SUBMISSIONS, MAX_WATCHERS, SUBMISSIONS_BUSY

QUEUED, RUNNING = ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING
SUCCEEDED, CANCELLED = ingest_pb2.JOB_STATE_SUCCEEDED, ingest_pb2.JOB_STATE_CANCELLED
T = 600


def write_manifest(path, rows, folder):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Performance", "Video URL"])
        w.writerows([perf, str(folder / url)] for perf, url in rows)
    return path


def smoke_rows(smoke):
    with open(smoke / "manifest.csv", newline="") as f:
        return list(csv.reader(f))[1:]


def wait_ended(channel, job_id):
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        job = get_job(channel, job_id, T)
        if job.state in (SUCCEEDED, CANCELLED, ingest_pb2.JOB_STATE_FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end")


def people(stack, out):
    export_report(stack.store, out)
    with open(out / "appearances.csv") as f:
        return {row["influencer_id"] for row in csv.DictReader(f)}


def batch_is_closed(stack):
    """Opening a batch for the stack's ingest worker finds the previous one closed (then closes it again). The
    queue closes its batch on its next idle step after the job ends, not with the end a watcher sees: the probe
    waits for that step (up to 30 s), or it would open the batch itself before the queue closed it."""
    deadline = time.monotonic() + 30
    while stack.ingest.jobs._batch_open and time.monotonic() < deadline:
        time.sleep(0.05)
    ident = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(open_channel(stack.settings.identity_target)), T)
    worker = stack.ingest.worker
    interrupted = ident.open_batch("probe", worker)
    ident.close_batch(worker)
    return not interrupted


def test_a_job_goes_on_without_its_watcher_replays_when_watched_again_and_the_next_job_queues(
        stack, corpus, tmp_path):
    smoke = corpus("smoke")
    rows = smoke_rows(smoke)
    channel = open_channel(stack.settings.ingest_target)
    first = start_ingest(channel, write_manifest(tmp_path / "all.csv", rows, smoke), T)
    second = start_ingest(channel, write_manifest(tmp_path / "again.csv", rows[:3], smoke), T)
    assert first.state == QUEUED and first.total == len(rows)
    listed = list_jobs(channel, T)
    assert [j.job_id for j in listed] == [first.job_id, second.job_id]
    assert listed[1].state == QUEUED, "the second job waits, visibly, behind the first"

    stream = ingest_pb2_grpc.IngestServiceStub(channel).WatchJob(ingest_pb2.WatchJobRequest(job_id=first.job_id))
    seen = [next(stream) for _ in range(3)]
    stream.cancel()  # the caller goes away mid-way
    assert get_job(channel, first.job_id, T).state == RUNNING

    replayed, job = watch_job(channel, first.job_id, T)  # reopened: the progress so far, then the rest
    assert replayed[:3] == seen
    assert [p.done for p in replayed] == list(range(1, len(rows) + 1))
    assert job.state == SUCCEEDED and job.done == job.total == len(rows)
    assert sum(job.statuses.values()) == len(rows) and job.statuses["duplicate"] == 1
    assert job.changed_videos >= 0 and seconds(job.end_time) >= seconds(job.start_time) >= seconds(job.create_time)
    assert len(people(stack, tmp_path / "report")) == 9, "reconciled: the smoke corpus's people, once each"
    with open(tmp_path / "report" / "videos.csv", newline="") as f:
        statuses = [row["status"] for row in csv.DictReader(f)]
    assert len(statuses) == len(rows) and statuses.count("duplicate") == 1, "a row for every manifest row"

    # Nobody watches the second job: it runs all the same, and a late watcher gets its whole progress.
    assert wait_ended(channel, second.job_id).state == SUCCEEDED
    late, job = watch_job(channel, second.job_id, T)
    assert len(late) == 3 and all(p.appearances == [] for p in late), "known videos are not processed again"
    assert batch_is_closed(stack)


def test_cancelling_stops_a_queued_job_once_its_rows_are_recorded_and_a_running_one_after_its_videos_in_flight(
        stack, corpus, tmp_path):
    smoke = corpus("smoke")
    rows = smoke_rows(smoke)
    channel = open_channel(stack.settings.ingest_target)
    running = start_ingest(channel, write_manifest(tmp_path / "all.csv", rows, smoke), T)
    queued = start_ingest(channel, write_manifest(tmp_path / "more.csv", rows[:2], smoke), T)

    cancelled = cancel_job(channel, queued.job_id, T)  # answers at once; the job ends after its rows' records
    assert cancelled.state in (QUEUED, CANCELLED) and cancelled.done == 0 and cancelled.cancel_requested
    results, ended = watch_job(channel, queued.job_id, T)
    assert results == [] and ended.state == CANCELLED and ended.done == 0

    stream = ingest_pb2_grpc.IngestServiceStub(channel).WatchJob(ingest_pb2.WatchJobRequest(job_id=running.job_id))
    # Rows settled at submission (a duplicate URL) come first; wait for a video a worker ran.
    next(p for p in stream if p.video.status != common_pb2.VIDEO_STATUS_DUPLICATE)
    assert cancel_job(channel, running.job_id, T).cancel_requested
    rest, job = watch_job(channel, running.job_id, T)
    assert job.state == CANCELLED and 1 <= job.done < job.total
    assert len(rest) == job.done and stack.store.list_videos()  # the videos started were recorded
    assert batch_is_closed(stack), "a cancelled job still reconciles and closes its batch"
    assert [j.state for j in list_jobs(channel, T)] == [CANCELLED, CANCELLED]


def videos_csv(stack, out):
    export_report(stack.store, out)
    with open(out / "videos.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_cancelled_jobs_rows_not_started_are_listed_failed_saying_so_and_run_when_the_manifest_runs_again(
        stack, corpus, tmp_path):
    # Before, they were dropped in the job store alone: videos.csv listed fewer rows than the manifest.
    smoke = corpus("smoke")
    rows = smoke_rows(smoke)
    channel = open_channel(stack.settings.ingest_target)
    manifest = write_manifest(tmp_path / "all.csv", rows, smoke)
    job = start_ingest(channel, manifest, T)
    stream = ingest_pb2_grpc.IngestServiceStub(channel).WatchJob(ingest_pb2.WatchJobRequest(job_id=job.job_id))
    next(p for p in stream if p.video.status != common_pb2.VIDEO_STATUS_DUPLICATE)
    assert cancel_job(channel, job.job_id, T).cancel_requested
    job = wait_ended(channel, job.job_id)
    assert job.state == CANCELLED and job.done < job.total
    deadline = time.monotonic() + 60
    while len(listed := videos_csv(stack, tmp_path / "cancelled")) < len(rows):
        assert time.monotonic() < deadline, f"videos.csv lists {len(listed)} of the {len(rows)} rows"
        time.sleep(0.2)
    assert len(listed) == len(rows), "every manifest row once"
    not_run = [r for r in listed if r["error"].endswith(": not processed: its job was cancelled")]
    assert len(not_run) == job.total - job.done and all(r["status"] == "failed" for r in not_run)

    again = wait_ended(channel, start_ingest(channel, manifest, T).job_id)
    assert again.state == SUCCEEDED and again.statuses["failed"] == 0
    rerun = videos_csv(stack, tmp_path / "rerun")
    assert len(rerun) == len(rows)
    assert not [r for r in rerun if r["status"] == "failed" or "not processed" in r["error"]]


def test_an_unknown_job_is_not_found(stack):
    channel = open_channel(stack.settings.ingest_target)
    for call in (lambda: get_job(channel, "nope", T), lambda: cancel_job(channel, "nope", T),
                 lambda: watch_job(channel, "nope", T)):
        try:
            call()
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
        else:
            raise AssertionError("an unknown job id was answered")


def test_watchers_past_the_limit_are_refused_and_short_calls_still_answer(stack, corpus, tmp_path):
    smoke = corpus("smoke")
    manifest = write_manifest(tmp_path / "m.csv", smoke_rows(smoke), smoke)
    channel = open_channel(f"127.0.0.1:{stack.settings.ingest_port}")
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    job = start_ingest(channel, manifest, T)
    watchers = [stub.WatchJob(ingest_pb2.WatchJobRequest(job_id=job.job_id), timeout=T)
                for _ in range(MAX_WATCHERS)]
    try:
        time.sleep(1)  # every watcher's handler holds its slot
        refused = stub.WatchJob(ingest_pb2.WatchJobRequest(job_id=job.job_id), timeout=30)
        try:
            next(refused)
            raise AssertionError("a watcher past the limit was served")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "poll GetJob" in exc.details()
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert job.job_id in {j.job_id for j in list_jobs(channel, 5)}
        assert get_job(channel, job.job_id, 5).job_id == job.job_id
    finally:
        for watcher in watchers:
            watcher.cancel()
    cancel_job(channel, job.job_id, T)
    wait_ended(channel, job.job_id)



def test_submissions_past_the_cap_are_refused_as_busy_and_the_cli_sends_its_own_again_until_taken(stack, tmp_path):
    # Thirty 31 MB submissions at once held all 16 threads (health checks timed out past 30 s) and SQLite's writer
    # lock past its wait: four were INTERNAL ("database is locked").
    assert client.SUBMISSIONS_BUSY == SUBMISSIONS_BUSY
    channel = open_channel(f"127.0.0.1:{stack.settings.ingest_port}")
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    calls = [stub.StartIngest.future(ingest_pb2.StartIngestRequest(base_dir=str(tmp_path), videos=[
        ingest_pb2.VideoSubmission(url=f"{k}/{n}/" + "a" * 99_000 + ".mp4", performance=1.0) for n in range(60)]),
        timeout=T) for k in range(12)]
    manifest = tmp_path / "m.csv"
    manifest.write_text("Performance,Video URL\n1.0,gone.mp4\n")
    mine = start_ingest(channel, manifest, T)  # sent again while ingest is busy, until it is taken
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    taken, busy = [], []
    for call in calls:
        try:
            taken.append(call.result().job.job_id)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc.details()
            busy.append(exc.details())
    assert busy and all(d.startswith(f"ingest is busy: it takes {MAX_SUBMISSIONS} submissions at once") for d in busy)
    assert {j.job_id for j in list_jobs(channel, 30)} == {*taken, mine.job_id}, "a refused submission stores no job"
    for job_id in (*taken, mine.job_id):
        wait_ended(channel, job_id)

def test_a_file_named_disk_full_that_fails_for_another_reason_does_not_stop_the_batch(stack, corpus, tmp_path):
    smoke = corpus("smoke")
    broken = tmp_path / "disk full.mp4"
    broken.write_bytes(b"not a video")
    deep = tmp_path / ("disk full " + "x" * 240) / "v.mp4"  # a path longer than an error message shows
    deep.parent.mkdir()
    deep.write_bytes(b"not a video either")
    rows = [["1.0", str(broken)], ["1.0", str(deep)], *[[p, str(smoke / u)] for p, u in smoke_rows(smoke)[:5]]]
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="") as f:
        csv.writer(f).writerows([["Performance", "Video URL"], *rows])
    channel = open_channel(stack.settings.ingest_target)
    job = wait_ended(channel, start_ingest(channel, manifest, T).job_id)
    assert job.state == SUCCEEDED and job.done == job.total == 7 and job.statuses["failed"] == 2


def test_cancelling_a_finished_job_from_the_cli_says_there_is_nothing_to_cancel(stack, tmp_path, capsys):
    channel = open_channel(stack.settings.ingest_target)
    job = start_ingest(channel, write_manifest(tmp_path / "gone.csv", [["1.0", "gone.mp4"]], tmp_path), T)
    ended = wait_ended(channel, job.job_id).state
    capsys.readouterr()
    assert main(["cancel", job.job_id, "--ingest-port", str(stack.settings.ingest_port)]) == 0
    word = {SUCCEEDED: "succeeded", ingest_pb2.JOB_STATE_FAILED: "failed"}[ended]
    assert capsys.readouterr().out.strip() == f"job {job.job_id}: {word} already; nothing to cancel"
    assert get_job(channel, job.job_id, T).state == ended


def test_cancelling_a_job_whose_videos_are_all_done_says_it_ends_as_it_is():
    # Found by cancelling a job as its last video finished (it was reconciling): the CLI said 'cancelling
    # (videos in flight finish …)', and the job then succeeded, as a job with every video done does
    # (job_store: CANCELLED only with videos left undone).
    from influencers.cli.jobs import cancel_said

    reconciling = ingest_pb2.Job(job_id="j1", state=RUNNING, done=3, total=3, cancel_requested=True)
    assert cancel_said(reconciling, None) == \
        "job j1: all 3 videos are done already (the job is finishing); nothing to cancel"
    running = ingest_pb2.Job(job_id="j1", state=RUNNING, done=1, total=3, cancel_requested=True)
    assert cancel_said(running, None).startswith("job j1: cancelling (videos in flight finish")
    queued = ingest_pb2.Job(job_id="j1", state=QUEUED, total=3, cancel_requested=True)  # ends after its records
    assert cancel_said(queued, QUEUED).startswith("job j1: cancelling (")


def test_a_password_in_a_url_is_never_stored_logged_or_shown(stack, tmp_path, caplog):
    urls = ["https://alice:hunter2@cdn.example.com/v.mp4", "https://ghp_hunter2@cdn.example.com/w.mp4",
            "ftp://bob:hunter2@example.com/x.mp4", "file://carol:hunter2@localhost/tmp/y.mp4"]
    manifest = tmp_path / "secret.csv"
    with open(manifest, "w", newline="") as f:
        csv.writer(f).writerows([["Performance", "Video URL"], *[[k, url] for k, url in enumerate(urls)]])
    channel = open_channel(stack.settings.ingest_target)
    results, job = watch_job(channel, start_ingest(channel, manifest, T).job_id, T)
    assert job.statuses["failed"] == 4
    shown = [f"{r.video.url} {r.video.location} {r.video.error}" for r in results]
    assert any(text.startswith("https://***@cdn.example.com/v.mp4 ") for text in shown)
    export_report(stack.store, tmp_path / "out")
    assert "hunter2" not in " ".join(shown) + (tmp_path / "out" / "videos.csv").read_text() + caplog.text


def test_a_link_given_without_its_scheme_and_with_a_password_is_never_stored_logged_or_shown(
        stack, tmp_path, capsys, caplog):
    # `//dora:hunter2@cdn/v.mp4`, a link copied without its `https:`, was read as a local path (not found): before,
    # its password was kept in the job store and the row's key, printed by the CLI, logged and exported; a token in
    # its query or path (`//cdn/v.mp4?token=...`) was kept in the row's key, exported and shown on the page until it
    # was refused as a link without its scheme.
    urls = ["//dora:hunter2@cdn.example.com/v.mp4", "//erin:hunter2@cdn/w.mp4", "//frank:hun/ter2@cdn/x.mp4",
            "//cdn.example.com/y.mp4?token=hunter2query", "//cdn.example.com/token=hunter2path/z.mp4"]
    manifest = tmp_path / "schemeless.csv"
    with open(manifest, "w", newline="") as f:
        csv.writer(f).writerows([["Performance", "Video URL"], *[[k, url] for k, url in enumerate(urls)]])
    assert main(["ingest", str(manifest), "--ingest-port", str(stack.settings.ingest_port)]) == 1
    said = capsys.readouterr()
    hint = "a link without its scheme is not fetched: write it whole, with its https:// (a path on this machine " \
           "starts with one /)"
    for shown in ("//***@cdn.example.com/v.mp4", "//***@cdn/w.mp4", "//***@cdn/x.mp4",
                  "//cdn.example.com/y.mp4?token=***", "//cdn.example.com/token=***/z.mp4"):
        assert f"{shown}: {hint}" in said.out + said.err
    export_report(stack.store, tmp_path / "out")
    exported = (tmp_path / "out" / "videos.csv").read_text()
    assert "//***@cdn/w.mp4" in exported and "y.mp4?token=sha256-" in exported and "token=sha256-" in exported
    held = b"".join(p.read_bytes() for p in stack.settings.data_dir.rglob("*.sqlite3*"))
    assert held and b"hunter2" not in held and b"ter2@" not in held
    page = requests.get(f"{stack.web_url}videos", timeout=T).text
    assert "y.mp4" in page and "hunter2" not in page
    assert "hunter2" not in said.out + said.err + exported + caplog.text
