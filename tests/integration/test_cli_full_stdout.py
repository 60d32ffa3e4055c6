"""A command whose stdout refuses its lines (`influencers jobs > /dev/full`) says so in one line naming stdout and
exits 1, as coreutils' `write error`; one whose reader left (`| head`) ends quietly. Against a scripted ingest
service over real gRPC on loopback, the CLI a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from influencers.v1 import ingest_pb2, ingest_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


class Listed(ingest_pb2_grpc.IngestServiceServicer):
    """An ingest service with `count` finished jobs."""

    def __init__(self, count: int) -> None:
        self.count = count

    def ListJobs(self, request, context):  # noqa: N802 - the service's name
        return ingest_pb2.ListJobsResponse(jobs=[
            ingest_pb2.Job(job_id=f"{k:032x}", state=ingest_pb2.JOB_STATE_SUCCEEDED, total=3, done=3)
            for k in range(self.count)])


@pytest.fixture
def ingest_port():
    def start(count: int) -> int:
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(Listed(count), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        return port

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    yield start
    server.stop(0)


def jobs_to(stdout: int, port: int) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    return subprocess.run([sys.executable, "-m", "influencers", "jobs", "--ingest-port", str(port)], cwd=ROOT,
                          env=clean, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)


@pytest.mark.parametrize("count", [1, 2_000])  # one line (refused at the last flush), ~150 kB (refused mid-list)
def test_a_listing_to_a_full_disk_is_one_line_naming_stdout_and_exit_1(ingest_port, count) -> None:
    # Was "influencers: error: jobs: cannot use (No space left on device); free some space ...", exit 2: no word
    # of what could not be used
    with open("/dev/full", "w") as full:
        refused = jobs_to(full.fileno(), ingest_port(count))
    assert (refused.returncode, refused.stderr.splitlines()) == (
        1, ["influencers: error: jobs: cannot write to stdout (No space left on device)"])


def test_a_listing_whose_reader_left_ends_quietly_with_0(ingest_port) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        gone = jobs_to(write, ingest_port(2_000))
    finally:
        os.close(write)
    assert (gone.returncode, gone.stderr) == (0, "")
