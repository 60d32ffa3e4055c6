"""The face store adapter: the same class over Qdrant local mode and (here simulated) a flaky server."""

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException

from services.identity.vectors import (
    SCHEMA_VERSION,
    CollectionLayout,
    FaceIndex,
    FacePoint,
    SchemaError,
    _Retrying,
    open_client,
    point_id,
)


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
    index = FaceIndex(_Retrying(flaky, first_wait_s=0.0), "faces",
                      layout=CollectionLayout(shards=2, replication=1, quantize=True))
    index.ensure()
    index.upsert([FacePoint(point_id("v", 0, 0), np.zeros(128), {"influencer_id": "a", "video_id": "v"})])
    assert index.search(np.zeros((1, 128)), 5) == [[("a", 0.0)]]
    assert flaky.calls > 4


def test_search_returns_euclidean_distances_to_the_nearest_influencers(tmp_path):
    index = FaceIndex(open_client("", "", tmp_path / "q"), "faces", local=True)
    index.ensure()
    one = np.zeros(128)
    one[0] = 0.3
    index.upsert([FacePoint(point_id("v1", 0, 0), np.zeros(128), {"influencer_id": "a", "video_id": "v1"}),
                  FacePoint(point_id("v2", 0, 0), one, {"influencer_id": "b", "video_id": "v2"})])
    (hits,) = index.search(np.zeros((1, 128)), 5)
    assert hits[0] == ("a", 0.0) and hits[1][0] == "b" and hits[1][1] == pytest.approx(0.3)
    assert index.delete_video("v1") == 1
    assert [p.payload["video_id"] for p in index.faces_in(["v1", "v2"])] == ["v2"]


def test_a_collection_from_a_newer_schema_is_refused(tmp_path):
    client = QdrantClient(path=str(tmp_path / "q"))
    client.create_collection("faces", vectors_config=models.VectorParams(size=128, distance=models.Distance.EUCLID),
                             metadata={"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(SchemaError, match="upgrade"):
        FaceIndex(client, "faces", local=True).ensure()


def test_the_local_index_and_the_server_path_give_the_same_answers(tmp_path):
    """Congruence: the in-memory indexes of local mode against Qdrant's own search and filters."""
    rng = np.random.default_rng(5)
    local = FaceIndex(open_client("", "", tmp_path / "a"), "faces", local=True)
    server_path = FaceIndex(QdrantClient(path=str(tmp_path / "b")), "faces", local=False)
    points = [FacePoint(point_id(f"v{k % 7}", 0, k), rng.normal(scale=0.1, size=128),
                        {"influencer_id": f"i{k % 5}", "video_id": f"v{k % 7}"}) for k in range(300)]
    for index in (local, server_path):
        index.ensure()
        index.upsert(points)
        index.delete_video("v3")
        index.set_influencer({"i9": [points[0].point_id]})
    queries = rng.normal(scale=0.1, size=(4, 128))
    a, b = local.search(queries, 10), server_path.search(queries, 10)
    assert [[i for i, _ in hits] for hits in a] == [[i for i, _ in hits] for hits in b]
    assert np.allclose([[d for _, d in hits] for hits in a], [[d for _, d in hits] for hits in b], atol=1e-4)
    for key in (["i9", "i1"], ["i2"]):
        assert sorted(f.point_id for f in local.faces_of(key)) == sorted(f.point_id for f in server_path.faces_of(key))
    assert sorted(f.point_id for f in local.faces_in(["v1", "v3"])) == \
        sorted(f.point_id for f in server_path.faces_in(["v1", "v3"]))
