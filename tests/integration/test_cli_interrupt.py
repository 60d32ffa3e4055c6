"""Ctrl-C while `influencers ingest` or `influencers jobs JOB` follows a job: the CLI in a subprocess against a
scripted ingest service over real gRPC on loopback, sent SIGINT once it has shown the job's first row. Its
last line says the job goes on: a JSON record with INFLUENCERS_LOG_FORMAT=json (stderr stays JSON lines only,
for a log shipper), plain text otherwise."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc

from influencers.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
JOB = ingest_pb2.Job(job_id="j1", state=ingest_pb2.JOB_STATE_RUNNING, total=3)


class Following(ingest_pb2_grpc.IngestServiceServicer):
    """A job of three rows whose first row fails at once and whose others never come: a watch hears that row,
    then waits until its caller goes away (or the test ends)."""

    def __init__(self) -> None:
        self.ended = threading.Event()

    def StartIngest(self, request, context):  # noqa: N802 - the service's name
        return ingest_pb2.StartIngestResponse(job=JOB)

    def ListJobs(self, request, context):  # noqa: N802
        return ingest_pb2.ListJobsResponse(jobs=[JOB])

    def GetJob(self, request, context):  # noqa: N802
        return ingest_pb2.GetJobResponse(job=JOB)

    def WatchJob(self, request, context):  # noqa: N802
        if request.skip == 0:
            video = common_pb2.Video(url="v0.mp4", status=common_pb2.VIDEO_STATUS_FAILED, error="v0.mp4: gone")
            yield ingest_pb2.WatchJobResponse(video=video, done=1, total=3)
        while context.is_active() and not self.ended.wait(0.05):
            pass


@pytest.fixture
def ingest_port() -> Iterator[int]:
    following = Following()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(following, server)
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    following.ended.set()
    server.stop(0)


def ctrl_c_as_a_terminal() -> None:
    """The child's SIGINT as a terminal's foreground job has it: a test run started in the background (`cmd &` in a
    script) hands its children SIGINT ignored, which Python keeps, and the Ctrl-C under test never arrived."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted(port: int, log_format: str, *args: str, how: signal.Signals = signal.SIGINT) -> tuple[int, list[str]]:
    """Runs `influencers ARGS` against the service at `port`; sends `how` (SIGINT: Ctrl-C) once the failed first
    row is shown. Returns the exit code and stderr's lines."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    env = {**clean, "INFLUENCERS_HOST": "127.0.0.1", "INFLUENCERS_INGEST_PORT": str(port),
           "INFLUENCERS_METRICS_PORT": "0", "INFLUENCERS_LOG_FORMAT": log_format}
    process = subprocess.Popen([sys.executable, "-m", "influencers", *args], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=ctrl_c_as_a_terminal)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)
    reader.start()
    said: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("v0.mp4: gone" in line for line in said):
            said.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        process.send_signal(how)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    while not lines.empty():
        said.append(lines.get())
    return code, [line for part in said for line in part.replace("\r", "\n").splitlines() if line.strip()]


def following_interrupted(ingest_port, tmp_path, log_format: str, command: tuple[str, ...],  # type: ignore[no-untyped-def]
                          how: signal.Signals = signal.SIGINT):
    """`command` (MANIFEST: a manifest of 3 rows) interrupted while it follows the job: its code and lines."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("Video URL,Performance\nv0.mp4,1\nv1.mp4,2\nv2.mp4,3\n")
    return interrupted(ingest_port, log_format, *(str(manifest) if a == "MANIFEST" else a for a in command), how=how)


@pytest.mark.parametrize(("command", "said"), [
    (("ingest", "MANIFEST"), "detached after 1 of 3 videos: job j1 goes on; follow it: influencers jobs j1{where}; "
                             "cancel it: influencers cancel j1{where}"),
    (("jobs", "j1"), "stopped following; job j1 goes on")], ids=["ingest", "jobs"])
def test_ctrl_c_while_following_a_job_is_told_as_a_json_record_when_logs_are_json(
        ingest_port, tmp_path, command, said) -> None:
    # Before, that line alone was plain text among JSON records on stderr (a log shipper choked on it).
    code, lines = following_interrupted(ingest_port, tmp_path, "json", command)
    assert code == 130
    records = [json.loads(line) for line in lines]  # every line of stderr is a JSON record
    assert records[-1]["event"] == said.format(where=f" --ingest-port {ingest_port}")
    assert records[-1]["level"] == "info"
    assert any(r["event"] == "FAILED  v0.mp4: gone" for r in records)


@pytest.mark.parametrize(("command", "said"), [
    (("ingest", "MANIFEST"), ["detached after 1 of 3 videos: job j1 goes on.",
                              "  follow it:  influencers jobs j1{where}",
                              "  cancel it:  influencers cancel j1{where}"]),
    (("jobs", "j1"), ["stopped following; job j1 goes on"])], ids=["ingest", "jobs"])
def test_ctrl_c_while_following_a_job_is_told_in_plain_lines_when_logs_are_text(
        ingest_port, tmp_path, command, said) -> None:
    code, lines = following_interrupted(ingest_port, tmp_path, "text", command)
    assert code == 130
    # The commands it offers reach the service where this one did (the port is not the default): pasted, they work.
    assert lines[-len(said):] == [line.format(where=f" --ingest-port {ingest_port}") for line in said]


@pytest.mark.parametrize(("command", "said"), [
    (("ingest", "MANIFEST"), "  cancel it:  influencers cancel j1{where}"),
    (("jobs", "j1"), "stopped following; job j1 goes on")], ids=["ingest", "jobs"])
def test_sigterm_while_following_a_job_leaves_it_going_on_as_ctrl_c_does_and_exits_143(
        ingest_port, tmp_path, command, said) -> None:
    # Before, SIGTERM passed the follower's Ctrl-C handler by: exit 130 and "interrupted: ... run the same command
    # again to resume", which for `ingest` submitted the manifest a second time while the first job went on.
    code, lines = following_interrupted(ingest_port, tmp_path, "text", command, how=signal.SIGTERM)
    assert code == 143
    assert lines[-1] == said.format(where=f" --ingest-port {ingest_port}")
    assert not any("Traceback" in line or "interrupted" in line for line in lines), lines
