"""Two ingest workers feeding one identity space at once, with overlapping videos, end with the same
people as one serial run: a new person seen by both at the same time is still one influencer."""

import csv
import threading

from influencers.client import ingest_manifest
from influencers.rpc import open_channel
from services.analytics.export import export_report
from services.ingest.server import IngestProcess


def test_two_ingest_workers_with_overlapping_videos_find_each_person_once(stack, corpus, tmp_path):
    smoke = corpus("smoke")
    with open(smoke / "manifest.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    halves = [rows[: 2 * len(rows) // 3], rows[len(rows) // 3:]]  # the middle third is in both
    manifests = []
    for k, part in enumerate(halves):
        path = tmp_path / f"part{k}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Performance", "Video URL"])
            w.writerows([perf, str(smoke / url)] for perf, url in part)
        manifests.append(path)
    second = IngestProcess(stack.settings.replace(ingest_port=0, worker_name="second"))
    try:
        targets = [stack.settings.ingest_target, f"127.0.0.1:{second.port}"]
        errors = []

        def work(target, manifest):
            try:
                ingest_manifest(open_channel(target), manifest, timeout_s=600)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=pair) for pair in zip(targets, manifests, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
    finally:
        second.stop()
    export_report(stack.store, tmp_path / "report")
    with open(tmp_path / "report" / "appearances.csv") as f:
        apps = list(csv.DictReader(f))
    assert len({a["influencer_id"] for a in apps}) == 9  # the serial run's people count (test_smoke_corpus)
    assert len({(a["video_url"], a["influencer_id"]) for a in apps}) == len(apps)
    assert len({a["video_url"] for a in apps}) == 11  # every smoke video with a face, once
