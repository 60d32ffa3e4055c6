"""Two ingest workers feeding one identity space at once, with overlapping videos, end with the same
people as one serial run: a new person seen by both at the same time is still one influencer."""

import csv
import threading

from influencers.client import ingest_manifest
from services.analytics.export import export_report
from services.common.rpc import open_channel
from services.ingest.server import IngestProcess


def test_two_ingest_workers_with_overlapping_videos_find_each_person_once(stack, corpus, tmp_path):
    manifests = _overlapping_halves(corpus("smoke"), tmp_path)
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


class SerialClient:
    """qdrant-client's local mode standing in for a Qdrant server (none can run here): a server applies
    each call atomically, so calls from the two replicas are serialised as a server would."""

    def __init__(self, client):
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name):
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(*args, **kwargs):
            with self._lock:
                return target(*args, **kwargs)

        return call


def test_two_identity_replicas_on_one_server_find_each_person_once(settings, corpus, tmp_path):
    """The deployment with QDRANT_URL: two ingest workers, each with its own identity replica, one store."""
    from qdrant_client import QdrantClient

    from influencers.stack import start_stack
    from services.identity.process import IdentityProcess
    from services.identity.server_store import ServerFaceStore

    shared = ServerFaceStore(SerialClient(QdrantClient(path=str(tmp_path / "server"))), "faces")
    stack = start_stack(settings, web=False, face_store=shared)
    replica = IdentityProcess(stack.settings.replace(identity_port=0), shared)
    second = IngestProcess(stack.settings.replace(ingest_port=0, worker_name="second",
                                                  identity_addr=f"127.0.0.1:{replica.port}"))
    try:
        manifests = _overlapping_halves(corpus("smoke"), tmp_path)
        targets = [stack.settings.ingest_target, f"127.0.0.1:{second.port}"]
        threads = [threading.Thread(target=ingest_manifest, args=(open_channel(t), m), kwargs={"timeout_s": 600})
                   for t, m in zip(targets, manifests, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        export_report(stack.store, tmp_path / "report")
    finally:
        second.stop()
        replica.server.stop(5)
        replica.workers.close()
        stack.stop()
    with open(tmp_path / "report" / "appearances.csv") as f:
        apps = list(csv.DictReader(f))
    assert len({a["influencer_id"] for a in apps}) == 9
    assert len({(a["video_url"], a["influencer_id"]) for a in apps}) == len(apps)
    assert len({a["video_url"] for a in apps}) == 11


def _overlapping_halves(smoke, tmp_path):
    """Two manifests of two thirds of smoke each: the middle third is in both."""
    with open(smoke / "manifest.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    manifests = []
    for k, part in enumerate([rows[: 2 * len(rows) // 3], rows[len(rows) // 3:]]):
        path = tmp_path / f"half{k}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Performance", "Video URL"])
            w.writerows([perf, str(smoke / url)] for perf, url in part)
        manifests.append(path)
    return manifests
