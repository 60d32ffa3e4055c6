"""The smoke corpus end to end through real gRPC servers on loopback, Qdrant local mode and SQLite,
half of it fetched over HTTP as real exports give URLs. Every video's frames wait in spool files here (the
spool's memory is one byte), as a long video's do, so that this path is the one checked end to end."""

import csv
import dataclasses
import urllib.request

import pandas as pd
import pytest
from prometheus_client import REGISTRY

from influencers.client import ingest_manifest
from influencers.evaluate import score_dirs
from services.analytics.export import export_report
from services.common.metrics import start_metrics_server
from services.common.rpc import open_channel
from services.common.spool import Spool

# The families issue 19 requires on /metrics (a check outside the tests reads them by these names).
FAMILIES = ("grpc_server_started_total", "grpc_server_handled_total", "grpc_server_handling_seconds_bucket",
            "grpc_client_started_total", "grpc_client_handled_total", "grpc_client_handling_seconds_bucket",
            "influencers_videos_total", "influencers_stage_seconds_bucket", "influencers_faces_stored",
            "influencers_influencers", "influencers_job_rows", "influencers_feed_position", "influencers_feed_lag",
            "influencers_review_items", "http_requests_total", "http_request_duration_seconds_bucket")
ANALYZE = {"grpc_type": "CLIENT_STREAM", "grpc_service": "influencers.v1.IdentityService",
           "grpc_method": "AnalyzeVideo", "grpc_code": "OK"}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, spool_memory_bytes=1)


@pytest.fixture
def spills(monkeypatch):
    """Folders the spools of this process (identity's server) moved their frames to."""
    folders = []
    spill = Spool._spill

    def counted(self):
        folders.append(self.directory)
        spill(self)

    monkeypatch.setattr(Spool, "_spill", counted)
    return folders


def _counts() -> dict[str, float]:
    """The counters this run moves (the registry is the process's: other tests count into it too)."""
    values = {status: REGISTRY.get_sample_value("influencers_videos_total", {"status": status})
              for status in ("done", "failed", "duplicate")}
    values["analyze"] = REGISTRY.get_sample_value("grpc_server_handled_total", ANALYZE)
    values["detect"] = REGISTRY.get_sample_value("influencers_stage_seconds_count", {"stage": "detect"})
    return {k: v or 0.0 for k, v in values.items()}


def _manifest_half_over_http(src, base_url, out):
    with open(src / "manifest.csv", newline="") as f:
        rows = list(csv.reader(f))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        for k, (perf, url) in enumerate(rows[1:]):
            w.writerow([perf, f"{base_url}/{url}" if k % 2 else str(src / url)])


def test_every_video_of_the_smoke_corpus_shows_the_right_people(spills, stack, http_server, corpus, tmp_path):
    smoke = corpus("smoke")
    manifest = tmp_path / "manifest.csv"
    _manifest_half_over_http(smoke, http_server(smoke), manifest)
    channel = open_channel(stack.settings.ingest_target)
    before = _counts()
    results = ingest_manifest(channel, manifest, timeout_s=600)
    after = _counts()
    assert {k: after[k] - before[k] for k in after} == {"done": 12, "failed": 0, "duplicate": 1, "analyze": 12,
                                                         "detect": 12}
    _every_family_on_the_metrics_endpoint(stack)
    statuses = sorted(r.video.status for r in results)
    assert len(results) == 13
    # Identity's spools, in this process; ingest's are made in its decoder processes (test_decoders).
    assert len(spills) == 12 and len(set(spills)) == 1, "identity spooled every analysed video to a file"
    assert not [f for folder in set(spills) for f in folder.iterdir() if f.name.startswith("spool-")]
    assert statuses.count(5) == 1, "the repeated row is a duplicate, counted once"
    assert all(r.video.error == "" for r in results if r.video.status == 3)

    export_report(stack.store, tmp_path / "report")
    scores = score_dirs(tmp_path / "report", smoke)
    assert scores.predicted_people == scores.true_people
    assert scores.incidence_f1 >= 0.99, scores.summary()
    assert scores.bcubed_f1 >= 0.99, scores.summary()
    assert scores.max_performance_error < 0.01, scores.summary()

    influencers = pd.read_csv(tmp_path / "report" / "influencers.csv")
    for image in influencers.representative_image:
        assert (tmp_path / "report" / image).stat().st_size > 1000

    again = ingest_manifest(channel, manifest, timeout_s=600)
    assert all(r.appearances == [] for r in again), "a re-submitted manifest processes nothing again"
    export_report(stack.store, tmp_path / "again")
    assert (tmp_path / "again" / "appearances.csv").read_text() == (tmp_path / "report" / "appearances.csv").read_text()

    with open(manifest, newline="") as f:
        rows = list(csv.reader(f))
    rows[1][0] = "2.5"  # a new score for an already processed video
    with open(manifest, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    rescored = ingest_manifest(channel, manifest, timeout_s=600)
    assert all(r.appearances == [] for r in rescored), "a new score reprocesses no faces"
    assert stack.store.get_video(url=rows[1][1]).performance == 2.5


def _every_family_on_the_metrics_endpoint(stack) -> None:
    urllib.request.urlopen(stack.web_url, timeout=30).read()  # the page answers one request
    server = start_metrics_server("127.0.0.1", 0)
    try:
        text = urllib.request.urlopen(server.url, timeout=30).read().decode()
    finally:
        server.stop()
    series = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert set(FAMILIES) <= series, set(FAMILIES) - series
    assert 'grpc_server_handled_total{grpc_code="OK",grpc_method="AnalyzeVideo"' in text
    assert 'influencers_job_rows{state="pending"}' in text
