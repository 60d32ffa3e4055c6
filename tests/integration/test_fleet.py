"""The fleet on one machine, each service its own process (`influencers service NAME`): PostgreSQL, one
identity, two analytics and two ingest replicas. The smoke corpus is submitted to ingest-1, which is
SIGKILLed after its first rows together with the analytics replica applying identity's feed; the job is
followed to its end through ingest-2 and exported from PostgreSQL: the same people as one process finds,
every manifest row in videos.csv exactly once."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from influencers.evaluate import score_dirs
from tests.support.fleet import Fleet

pytestmark = pytest.mark.slow


def test_a_fleet_with_an_ingest_and_the_feeding_analytics_replica_killed_finds_what_one_process_finds(
        postgres_server, corpus, tmp_path):
    smoke = corpus("smoke")
    fleet = Fleet(tmp_path / "fleet", postgres_server.new_database(), workers=1)
    for replica in fleet.replicas.values():  # a dead replica's rows come back to the queue within seconds
        replica.env["INFLUENCERS_JOB_LEASE_S"] = "5"
    fleet.start()
    try:
        submitted = fleet.cli("ingest-1", "ingest", str(smoke / "manifest.csv"), "--detach", timeout_s=120)
        assert submitted.returncode == 0, submitted.stderr
        job = submitted.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 300
        while fleet.job_progress("ingest-2", job)[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        leader = fleet.feed_leader(postgres_server)
        assert leader is not None, "no analytics replica holds the feed's lock"
        fleet.replicas["ingest-1"].kill()
        fleet.replicas[leader].kill()

        followed = fleet.cli("ingest-2", "jobs", job, timeout_s=600)
        assert followed.returncode == 0, followed.stdout + followed.stderr

        out = tmp_path / "export"
        exported = fleet.cli("ingest-2", "export", "--out", str(out), "--data-dir", str(tmp_path / "fleet" / "x"))
        assert exported.returncode == 0, exported.stderr
    finally:
        fleet.stop()
    with (smoke / "manifest.csv").open(newline="", encoding="utf-8-sig") as f:
        urls = [row["Video URL"] for row in csv.DictReader(f)]
    with (out / "videos.csv").open(newline="", encoding="utf-8") as f:
        seen = [row["video_url"] for row in csv.DictReader(f)]
    assert Counter(seen) == Counter(urls)  # each manifest row once (a repeated URL again, as a duplicate)
    scores = score_dirs(out, smoke)
    assert scores.predicted_people == scores.true_people, json.dumps(scores.summary())
    assert scores.bcubed_f1 >= 0.99, scores.summary()
    assert Path(out / "influencers.csv").is_file()
