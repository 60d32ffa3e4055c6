"""The smoke corpus end to end through real gRPC servers on loopback, Qdrant local mode and SQLite,
half of it fetched over HTTP as real exports give URLs."""

import csv

import pandas as pd

from influencers.client import ingest_manifest
from influencers.evaluate import score_dirs
from services.analytics.export import export_report
from services.common.rpc import open_channel


def _manifest_half_over_http(src, base_url, out):
    with open(src / "manifest.csv", newline="") as f:
        rows = list(csv.reader(f))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        for k, (perf, url) in enumerate(rows[1:]):
            w.writerow([perf, f"{base_url}/{url}" if k % 2 else str(src / url)])


def test_every_video_of_the_smoke_corpus_shows_the_right_people(stack, http_server, corpus, tmp_path):
    smoke = corpus("smoke")
    manifest = tmp_path / "manifest.csv"
    _manifest_half_over_http(smoke, http_server(smoke), manifest)
    channel = open_channel(stack.settings.ingest_target)
    results = ingest_manifest(channel, manifest, timeout_s=600)
    statuses = sorted(r.video.status for r in results)
    assert len(results) == 13
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
