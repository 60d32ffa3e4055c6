"""The face store port on its two adapters: Qdrant Edge (the embedded default) and a Qdrant server through
qdrant-client. No Qdrant server can run here, so qdrant-client's local mode stands in for the server: the
same ServerFaceStore code, the same client calls, another engine behind them."""

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from services.common.settings import Settings
from services.identity.edge_store import EdgeFaceStore
from services.identity.facestore import (
    SCHEMA_VERSION,
    FacePoint,
    FaceRecord,
    SchemaError,
    point_id,
    unpacked,
    vector_hash,
)
from services.identity.open_store import open_face_store
from services.identity.server_store import CollectionLayout, ServerFaceStore


def face(video: str, person: int, k: int, vector: np.ndarray, influencer: str, copy: int = 0) -> FacePoint:
    record = FaceRecord(video_id=video, person=person, influencer_id=influencer, faces=3, best_quality=0.8,
                        crop=f"{video}-{person}.jpg", cooccurs=[1 - person], vhash=vector_hash(vector), copy=copy)
    return FacePoint(point_id(video, person, k), np.asarray(vector, np.float32), record)


def scenario(store, rng):
    """The same writes on any adapter; returns what the reads answered, for comparison."""
    out = {"encoder_new": (store.recorded_encoder(), store.holds_hashes())}
    store.record_encoder("opencv")
    points = [face(f"v{k % 7}", k % 2, k, rng.normal(scale=0.1, size=128), f"i{k % 5}") for k in range(300)]
    copies = [face("w0", 0, k, points[k].vector, "i0", copy=1) for k in range(5)]
    store.upsert(points + copies)
    queries = rng.normal(scale=0.1, size=(4, 128))
    out["knn"] = store.search(queries, 10)
    out["knn_of_copied"] = store.search(np.stack([p.vector for p in points[:5]]), 3)
    out["copied_hashes"] = [p.record.vhash for p in points[:5]]
    out["neighbour_ids"] = [[pid for pid, _ in hits] for hits in store.neighbour_ids(queries, 10)]
    removed = store.delete_video("v3")
    out["removed"] = sorted(f.point_id for f in removed)
    store.set_influencer({"i9": [points[0].point_id, points[1].point_id]})
    store.set_fields([copies[0].point_id], {"copy": 0})
    out["knn_after"] = store.search(queries, 10)
    out["of_influencers"] = sorted(f.point_id for f in store.faces_of(["i9", "i1"]))
    out["in_videos"] = sorted(f.point_id for f in store.faces_in(["v1", "v3", "w0"]))
    out["by_hash"] = sorted(f.point_id for f in store.faces_where("vhash", [points[2].record.vhash]))
    out["records"] = sorted((f.point_id, f.record) for f in store.faces_in("v1"))
    out["vectors"] = {f.point_id: f.vector for f in store.faces_in("v2", with_vectors=True)}
    out["all"] = sorted(f.point_id for f in store.scroll())
    out["some_fields"] = sorted((f.point_id, f.record) for f in store.scroll(fields=("video_id", "person", "faces")))
    columns = list(store.columns(("video_id", "person", "vhash")))
    out["columns"] = sorted((unpacked(pid), tuple(np.round(vec, 5).tolist()), tuple(sorted(payload.items())))
                            for page in columns for pid, vec, payload in zip(*page, strict=True))
    out["count"] = store.count()
    out["counts"] = store.influencer_counts()
    reference = face("0123456789abcdef", 0, 0, rng.normal(scale=0.1, size=128), "i1")
    reference.record.reference = 1
    store.upsert([reference])
    store.set_pins({"i1": [points[6].point_id, reference.point_id], "": [points[7].point_id]})
    out["pinned"] = sorted(f.point_id for f in store.faces_where("pinned", ["i1"]))
    out["references"] = sorted(f.point_id for f in store.faces_where("reference", [1]))
    store.delete_points([points[8].point_id, points[9].point_id])
    out["after_delete_points"] = sorted(f.point_id for f in store.scroll())
    store.set_hidden("i2", True)
    store.set_hidden("i3", True)
    store.set_hidden("i3", False)
    out["hidden"] = store.hidden()
    out["videos"] = sorted(store.video_ids())
    first, token = store.video_page("", 3)
    rest, end = store.video_page(token, 100)
    out["pages"] = (len(first), sorted(first + rest), end)
    store.set_name("i1", "Ann")
    store.set_side("batch", "w", {"batch": "b1"})
    out["names"] = store.names()
    out["batch"] = store.get_side("batch", "w")
    store.set_side("batch", "w", None)
    out["batch_gone"] = store.get_side("batch", "w")
    store.optimize()
    out["knn_indexed"] = store.search(queries, 10)
    out["encoder"] = (store.recorded_encoder(), store.holds_hashes())
    return out


def test_edge_and_the_server_adapter_answer_every_operation_alike(tmp_path):
    edge = EdgeFaceStore(tmp_path / "edge")
    server = ServerFaceStore(QdrantClient(path=str(tmp_path / "server")), "faces")
    a, b = scenario(edge, np.random.default_rng(5)), scenario(server, np.random.default_rng(5))
    for key in a:
        if key.startswith("knn"):
            assert [[h.point for h in hits] for hits in a[key]] == [[h.point for h in hits] for hits in b[key]]
            assert np.allclose([[h.distance for h in hits] for hits in a[key]],
                               [[h.distance for h in hits] for hits in b[key]], atol=1e-4)
            assert [[(h.influencer_id, h.video_id, h.vhash) for h in hits] for hits in a[key]] == \
                [[(h.influencer_id, h.video_id, h.vhash) for h in hits] for hits in b[key]]
        elif key == "vectors":
            assert a[key].keys() == b[key].keys()
            assert all(np.allclose(a[key][k], b[key][k]) for k in a[key])
        else:
            assert a[key] == b[key], key
    assert "0123456789abcdef" not in a["videos"], "a reference photo is no video"
    assert [c[0] for c in a["columns"]] == a["all"] and {len(c[2]) for c in a["columns"]} == {3}
    assert {r.crop for _, r in a["some_fields"]} == {""} and {r.faces for _, r in a["some_fields"]} == {3}
    assert len(a["pinned"]) == 2 and len(a["references"]) == 1 and a["hidden"] == {"i2"}
    assert len(a["after_delete_points"]) == len(a["all"]) + 1 - 2, "one reference in, two faces erased"
    assert all(h.distance > 0 for hits in a["knn_of_copied"] for h in hits[1:])
    assert [hits[0].distance for hits in a["knn_of_copied"]] == pytest.approx([0.0] * 5, abs=1e-5)
    assert all(h.video_id != "w0" for hits in a["knn"] for h in hits), "copies are never searched"
    assert [hits[0].vhash for hits in a["knn_of_copied"]] == a["copied_hashes"], "a hit carries its face's hash"
    assert a["encoder_new"] == (None, False) and a["encoder"] == ("opencv", True)
    edge.close()
    server.close()


def test_an_edge_store_reopens_with_what_was_written(tmp_path):
    store = EdgeFaceStore(tmp_path / "edge")
    store.upsert([face("v1", 0, 0, np.ones(128) * 0.01, "i1")])
    store.set_name("i1", "Ann")
    store.record_encoder("dlib")
    store.close()
    again = EdgeFaceStore(tmp_path / "edge")
    assert again.count() == 1 and again.names() == {"i1": "Ann"} and list(again.video_ids()) == ["v1"]
    assert again.recorded_encoder() == "dlib"
    again.close()


def test_a_store_whose_faces_are_all_erased_still_holds_their_hashes(tmp_path):
    """An erased person's faces live on as keyed hashes of their encoding hashes (erasure.py): an encoder that
    hashes otherwise would not recognise a repost of them, so the store is not new."""
    store = EdgeFaceStore(tmp_path / "edge")
    store.set_side("erased", "k1", {"erased_key": "k1", "faces": [], "time_utc": "2026-01-01T00:00:00+00:00"})
    assert not store.holds_hashes()
    store.set_side("erased", "k2", {"erased_key": "k2", "faces": ["f0"], "time_utc": "2026-01-01T00:00:00+00:00"})
    assert store.holds_hashes() and store.count() == 0
    store.close()


def test_an_edge_store_indexed_by_an_older_version_is_reindexed_on_open(tmp_path):
    import qdrant_edge as qe

    store = EdgeFaceStore(tmp_path / "edge")
    store.upsert([face(f"v{k % 3}", 0, k, np.full(128, 0.01 * k), "i1") for k in range(9)])
    before = sorted(f.point_id for f in store.faces_in(["v1"]))
    store.close()
    shard = qe.EdgeShard.load(str(tmp_path / "edge" / "faces"))  # the indexes as an older version made them
    shard.update(qe.UpdateOperation.create_field_index("video_id", qe.PayloadSchemaType.Keyword))
    shard.update(qe.UpdateOperation.create_field_index("copy", qe.PayloadSchemaType.Integer))
    shard.close()
    again = EdgeFaceStore(tmp_path / "edge")
    schema = again._faces.info().payload_schema  # noqa: SLF001 - the engine's own account of its indexes
    assert schema["video_id"].params.memory == qe.Memory.Cached and schema["video_id"].params.enable_hnsw is False
    assert schema["copy"].params.range is False and schema["copy"].params.lookup is True
    assert sorted(f.point_id for f in again.faces_in(["v1"])) == before and len(before) == 3
    assert len(again.search(np.full((1, 128), 0.02), 5)[0]) == 5
    again.close()


def test_an_edge_store_from_a_newer_schema_is_refused(tmp_path):
    store = EdgeFaceStore(tmp_path / "edge")
    store.set_side("schema", "faces", {"version": SCHEMA_VERSION + 1})
    store.close()
    with pytest.raises(SchemaError, match="upgrade"):
        EdgeFaceStore(tmp_path / "edge")


def test_a_server_collection_from_another_schema_is_refused(tmp_path):
    client = QdrantClient(path=str(tmp_path / "q"))
    client.create_collection("faces", vectors_config=models.VectorParams(size=128, distance=models.Distance.EUCLID),
                             metadata={"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(SchemaError, match="upgrade"):
        ServerFaceStore(client, "faces")


class Flaky:
    """A client whose every other call fails as a dropped connection would (a server we cannot run)."""

    def __init__(self, client):
        self.client, self.calls = client, 0

    def __getattr__(self, name):
        target = getattr(self.client, name)

        def call(*args, **kwargs):
            self.calls += 1
            if self.calls % 2:
                raise ResponseHandlingException(ConnectionError("reset"))
            return target(*args, **kwargs)

        return call


def test_server_calls_are_retried_on_network_errors(tmp_path):
    flaky = Flaky(QdrantClient(path=str(tmp_path / "q")))
    store = ServerFaceStore(flaky, "faces", CollectionLayout(shards=2, replication=1, quantize=True),
                            first_wait_s=0.0)
    store.upsert([face("v", 0, 0, np.zeros(128), "a")])
    assert [[h.influencer_id for h in hits] for hits in store.search(np.zeros((1, 128)), 5)] == [["a"]]
    assert flaky.calls > 4


def test_a_local_mode_data_dir_is_migrated_to_edge_on_first_open(tmp_path):
    """A data dir of the previous release (qdrant-client local mode, dict payloads, a names collection)."""
    folder = tmp_path / "data" / "qdrant"
    client = QdrantClient(path=str(folder))
    client.create_collection("faces", vectors_config=models.VectorParams(size=128, distance=models.Distance.EUCLID),
                             metadata={"schema_version": 1})
    client.create_collection("faces_names", vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT))
    rng = np.random.default_rng(1)
    vectors = rng.normal(scale=0.1, size=(3, 128))
    client.upsert("faces", [models.PointStruct(id=point_id(v, 0, 0), vector=vec.tolist(), payload={
        "video_id": v, "person": 0, "influencer_id": "inf_a", "faces": 2, "best_quality": 0.7, "crop": f"{v}-0.jpg",
        "cooccurs": [], "first_seen_s": 0.0, "last_seen_s": 1.0, "screen_time_s": 1.0, "timestamp_s": 0.0,
        "box": [0, 10, 10, 0], "quality": 0.7, "ambiguous": False})
        for v, vec in zip(["v1", "v2", "v3"], vectors, strict=True)])
    client.upsert("faces_names", [
        models.PointStruct(id=point_id("n", 0, 0), vector=[1.0], payload={"influencer_id": "inf_a", "name": "Ann"}),
        models.PointStruct(id=point_id("m", 0, 0), vector=[0.0], payload={"meta": "batch:host", "batch": "b7"})])
    client.close()
    store = open_face_store(Settings(data_dir=tmp_path / "data"))
    assert store.count() == 3 and sorted(store.video_ids()) == ["v1", "v2", "v3"]
    assert store.names() == {"inf_a": "Ann"} and store.get_side("batch", "host")["batch"] == "b7"
    assert [h[0].influencer_id for h in store.search(vectors[:1], 1)] == ["inf_a"]
    assert (folder / "local-mode-backup" / "meta.json").is_file() and not (folder / "meta.json").exists()
    store.close()
    again = open_face_store(Settings(data_dir=tmp_path / "data"))
    assert again.count() == 3, "a second open does not migrate again"
    again.close()


class RacedByAnotherReplica:
    """A client whose collection creations find each collection made by another replica meanwhile: the server
    answers 400 'already exists', as a Qdrant server does to the second of two identity replicas starting."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create_collection(self, name, **kwargs):
        self.client.create_collection(name, **kwargs)  # the other replica's
        said = f'{{"status":{{"error":"Wrong input: Collection `{name}` already exists!"}}}}'
        raise UnexpectedResponse(400, "Bad Request", said.encode(), httpx.Headers())


def test_a_collection_another_replica_created_meanwhile_is_used_not_refused(tmp_path):
    # Before, the second of two identity replicas starting on a new Qdrant server met 'already exists' and
    # ended its start with 'QDRANT_URL ... answered 400, not as a Qdrant server', exit 2.
    store = ServerFaceStore(RacedByAnotherReplica(QdrantClient(path=str(tmp_path / "q"))), "faces",
                            first_wait_s=0.0)
    store.upsert([face("v", 0, 0, np.zeros(128), "a")])
    assert [[h.influencer_id for h in hits] for hits in store.search(np.zeros((1, 128)), 5)] == [["a"]]
