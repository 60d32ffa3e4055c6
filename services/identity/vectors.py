"""The face store: one Qdrant collection of face encodings with their payloads. The same class talks to
Qdrant's local mode (a folder, no server) or to a Qdrant server, chosen by the settings alone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException

from services.identity.keys import ExactVectors, KeyIndex

VECTOR_SIZE = 128
SCHEMA_VERSION = 1
_NAMESPACE = uuid.UUID("5b1d6c2e-8f0a-4f7e-9c1d-2a3b4c5d6e7f")


@dataclass
class FacePoint:
    """One encoded face. `payload` holds video_id, person, influencer_id, timestamp_s, box, quality and
    the person's appearance summary (first/last seen, faces, screen time, best crop file)."""

    point_id: str
    vector: np.ndarray
    payload: dict[str, Any] = field(default_factory=dict)


def point_id(video_id: str, person: int, face: int) -> str:
    """Deterministic point id: analysing a video again overwrites, never duplicates, its faces."""
    return str(uuid.uuid5(_NAMESPACE, f"{video_id}:{person}:{face}"))


@dataclass(frozen=True)
class CollectionLayout:
    """How the face collection is laid out on a Qdrant server (local mode ignores all but the schema)."""

    shards: int = 1
    replication: int = 1
    quantize: bool = False  # int8 scalar quantization, originals kept for rescoring: for large stores


class SchemaError(RuntimeError):
    """The collection was written by a newer version of this code."""


class _Retrying:
    """Proxy over a QdrantClient that retries calls failing on the network, with exponential backoff.
    Every call we make is an idempotent upsert, delete, read or search, so a retry cannot double a write."""

    def __init__(self, client: QdrantClient, attempts: int = 4, first_wait_s: float = 0.2) -> None:
        self._client = client
        self._attempts = attempts
        self._first_wait_s = first_wait_s

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(self._attempts):
                try:
                    return target(*args, **kwargs)
                except (ResponseHandlingException, ConnectionError, TimeoutError):
                    if attempt == self._attempts - 1:
                        raise
                    time.sleep(self._first_wait_s * 2**attempt)
            raise AssertionError("unreachable")

        return call


def open_client(qdrant_url: str, api_key: str, local_path: Path) -> QdrantClient:
    """A Qdrant server client (with retries) when `qdrant_url` is set, else local mode in `local_path`."""
    if qdrant_url:
        return _Retrying(QdrantClient(url=qdrant_url, api_key=api_key or None, timeout=30))  # type: ignore[return-value]
    local_path.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(local_path))


class FaceIndex:
    def __init__(self, client: QdrantClient, collection: str, local: bool = False,
                 layout: CollectionLayout | None = None) -> None:
        self.client = client
        self.local = local
        self.layout = layout or CollectionLayout()
        self.collection = collection
        self.names_collection = f"{collection}_names"
        self._keys: KeyIndex | None = None  # local mode only, built on first use
        self._vectors = ExactVectors(VECTOR_SIZE)

    def warm(self) -> None:
        """Builds the in-memory indexes of a local store now rather than on the first call."""
        self._local_keys()

    def _local_keys(self) -> KeyIndex | None:
        """The in-memory indexes of a local store (None on a server, whose own indexes serve)."""
        if self.local and self._keys is None:
            self._keys = KeyIndex()
            offset = None
            while True:
                points, offset = self.client.scroll(self.collection, limit=4096, offset=offset, with_vectors=True,
                                                    with_payload=["video_id", "influencer_id"])
                for p in points:
                    payload = p.payload or {}
                    self._keys.put(str(p.id), str(payload.get("video_id")), str(payload.get("influencer_id")))
                    self._vectors.put(str(p.id), np.asarray(p.vector, np.float32))
                if offset is None:
                    break
        return self._keys

    def ensure(self) -> None:
        """Creates the collections (Euclidean, 128-d, HNSW, payload indexes) if they do not exist."""
        if self.client.collection_exists(self.collection):
            self._check_schema()
        else:
            quantization = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=True)) if self.layout.quantize else None
            self.client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=VECTOR_SIZE, distance=models.Distance.EUCLID),
                hnsw_config=models.HnswConfigDiff(m=16, ef_construct=128),
                shard_number=self.layout.shards,
                replication_factor=self.layout.replication,
                quantization_config=quantization,
                metadata={"schema_version": SCHEMA_VERSION},
            )
            # Local mode scans every point anyway and warns that payload indexes do nothing there.
            for key in () if self.local else ("influencer_id", "video_id"):
                self.client.create_payload_index(self.collection, key, models.PayloadSchemaType.KEYWORD)
        if not self.client.collection_exists(self.names_collection):
            self.client.create_collection(
                self.names_collection, vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT))

    def _check_schema(self) -> None:
        """Refuses a collection from a newer schema; older ones are migrated here as the schema evolves
        (version 1 is the first)."""
        info = self.client.get_collection(self.collection)
        version = int((getattr(info.config, "metadata", None) or {}).get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise SchemaError(f"collection {self.collection!r} has schema {version}; this code knows up to "
                              f"{SCHEMA_VERSION}: upgrade the identity service")

    def healthy(self) -> bool:
        try:
            self.client.get_collections()
        except Exception:  # noqa: BLE001 - any failure to reach the store means "not serving"
            return False
        return True

    def upsert(self, points: list[FacePoint], batch: int = 256) -> None:
        keys = self._local_keys()
        for start in range(0, len(points), batch):
            chunk = points[start:start + batch]
            self.client.upsert(self.collection, [
                models.PointStruct(id=p.point_id, vector=p.vector.astype(float).tolist(), payload=p.payload)
                for p in chunk
            ], wait=True)
            if keys is not None:
                for p in chunk:
                    keys.put(p.point_id, str(p.payload.get("video_id")), str(p.payload.get("influencer_id")))
                    self._vectors.put(p.point_id, p.vector)

    def delete_video(self, video_id: str) -> int:
        keys = self._local_keys()
        if keys is not None:
            ids = keys.of_videos([video_id])
            if ids:
                self.client.delete(self.collection, models.PointIdsList(points=ids), wait=True)
                keys.remove(ids)
                self._vectors.remove(ids)
            return len(ids)
        flt = _match("video_id", video_id)
        count = self.client.count(self.collection, count_filter=flt, exact=True).count
        if count:
            self.client.delete(self.collection, models.FilterSelector(filter=flt), wait=True)
        return count

    def search(self, vectors: np.ndarray, limit: int) -> list[list[tuple[str, float]]]:
        """For each row of `vectors`, the (influencer_id, distance) of the nearest stored faces."""
        keys = self._local_keys()
        empty = len(keys) == 0 if keys is not None else self.client.count(self.collection, exact=False).count == 0
        if len(vectors) == 0 or empty:
            return [[] for _ in range(len(vectors))]
        if keys is not None:
            return [[(keys.influencer_of(pid), d) for pid, d in hits] for hits in self._vectors.nearest(vectors, limit)]
        requests = [models.QueryRequest(query=v.astype(float).tolist(), limit=limit, with_payload=[
            "influencer_id"]) for v in vectors]
        results = self.client.query_batch_points(self.collection, requests)
        return [[(str(p.payload["influencer_id"]), float(p.score)) for p in r.points] for r in results]

    def scroll(self, flt: models.Filter | None = None, with_vectors: bool = False) -> Iterable[FacePoint]:
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection, scroll_filter=flt, limit=1024, offset=offset,
                                                with_payload=True, with_vectors=with_vectors)
            for p in points:
                vec = np.asarray(p.vector, dtype=np.float64) if with_vectors else np.zeros(0)
                yield FacePoint(str(p.id), vec, dict(p.payload or {}))
            if offset is None:
                return

    def faces_of(self, influencer_ids: str | list[str], with_vectors: bool = False) -> list[FacePoint]:
        return self._faces("influencer_id", influencer_ids, with_vectors)

    def faces_in(self, video_ids: str | list[str], with_vectors: bool = False) -> list[FacePoint]:
        return self._faces("video_id", video_ids, with_vectors)

    def _faces(self, key: str, values: str | list[str], with_vectors: bool) -> list[FacePoint]:
        """The faces whose payload `key` is one of `values`: from the local key index, or the server's."""
        wanted = [values] if isinstance(values, str) else values
        keys = self._local_keys()
        if keys is not None:
            ids = keys.of_videos(wanted) if key == "video_id" else keys.of_influencers(wanted)
            return self._retrieve(ids, with_vectors)
        return list(self.scroll(_match(key, wanted), with_vectors=with_vectors))

    def _retrieve(self, ids: list[str], with_vectors: bool) -> list[FacePoint]:
        out = []
        for start in range(0, len(ids), 1024):
            for p in self.client.retrieve(self.collection, ids[start:start + 1024], with_payload=True,
                                          with_vectors=with_vectors):
                vec = np.asarray(p.vector, dtype=np.float64) if with_vectors else np.zeros(0)
                out.append(FacePoint(str(p.id), vec, dict(p.payload or {})))
        return out

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """A small record kept beside the influencer names (e.g. an open batch)."""
        points = self.client.retrieve(self.names_collection, [str(uuid.uuid5(_NAMESPACE, "meta:" + key))])
        return dict(points[0].payload or {}) if points else None

    def set_meta(self, key: str, value: dict[str, Any] | None) -> None:
        pid = str(uuid.uuid5(_NAMESPACE, "meta:" + key))
        if value is None:
            self.client.delete(self.names_collection, models.PointIdsList(points=[pid]), wait=True)
        else:
            self.client.upsert(self.names_collection, [models.PointStruct(
                id=pid, vector=[0.0], payload={"meta": key, **value})], wait=True)

    def set_influencer(self, assignments: dict[str, list[str]]) -> None:
        """`assignments`: influencer_id -> point ids to give it."""
        keys = self._local_keys()
        for influencer_id, ids in assignments.items():
            for start in range(0, len(ids), 1024):
                self.client.set_payload(self.collection, {"influencer_id": influencer_id},
                                        points=ids[start:start + 1024], wait=True)
            if keys is not None:
                keys.assign(ids, influencer_id)

    def names(self) -> dict[str, str]:
        out = {}
        offset = None
        while True:
            points, offset = self.client.scroll(self.names_collection, limit=1024, offset=offset)
            out.update({str(p.payload["influencer_id"]): str(p.payload["name"])
                        for p in points if p.payload and "influencer_id" in p.payload})
            if offset is None:
                return out

    def set_name(self, influencer_id: str, name: str) -> None:
        pid = str(uuid.uuid5(_NAMESPACE, influencer_id))
        self.client.upsert(self.names_collection, [models.PointStruct(
            id=pid, vector=[1.0], payload={"influencer_id": influencer_id, "name": name})], wait=True)

    def close(self) -> None:
        self.client.close()


def _condition(key: str, value: str | list[str]) -> models.FieldCondition:
    match = models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value)
    return models.FieldCondition(key=key, match=match)


def _match(key: str, value: str | list[str]) -> models.Filter:
    return models.Filter(must=[_condition(key, value)])
