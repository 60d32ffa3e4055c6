"""The face store on a Qdrant server through qdrant-client: what several identity replicas share. Two
collections: the faces, and `<faces>_side` (names, batch markers, the video list). Network failures are
retried with backoff; every call is an idempotent upsert, delete, read or search."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from services.identity.facestore import (
    HIT_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SCHEMA_VERSION,
    SEARCH_EF,
    VECTOR_SIZE,
    FaceColumns,
    FacePoint,
    FaceRecord,
    FaceStore,
    Hit,
    SchemaError,
    chunks,
    hit_of,
    packed,
    side_id,
)

T = TypeVar("T")
PAGE = 1024


@dataclass(frozen=True)
class CollectionLayout:
    """How a new face collection is laid out on the server."""

    shards: int = 1
    replication: int = 1
    quantize: bool = False  # int8 scalar quantization, originals kept for rescoring: for large stores


def _match(key: str, values: Sequence[str | int]) -> models.Filter:
    match = (models.MatchValue(value=values[0]) if len(values) == 1
             else models.MatchAny(any=list(values)))  # type: ignore[arg-type]
    return models.Filter(must=[models.FieldCondition(key=key, match=match)])


class ServerFaceStore(FaceStore):
    def __init__(self, client: QdrantClient, collection: str, layout: CollectionLayout | None = None,
                 attempts: int = 4, first_wait_s: float = 0.2) -> None:
        self.client = client
        self.collection = collection
        self.side = f"{collection}_side"
        self.layout = layout or CollectionLayout()
        self._attempts = attempts
        self._first_wait_s = first_wait_s
        self._ensure()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Calls the client, retrying network failures with exponential backoff."""
        for attempt in range(self._attempts):
            try:
                return fn(*args, **kwargs)
            except (ResponseHandlingException, ConnectionError, TimeoutError):
                if attempt == self._attempts - 1:
                    raise
                time.sleep(self._first_wait_s * 2**attempt)
        raise AssertionError("unreachable")

    def _ensure(self) -> None:
        """Creates the collections (Euclidean, 128-d, HNSW, payload indexes) unless they exist."""
        c = self.client
        if self._call(c.collection_exists, self.collection):
            info = self._call(c.get_collection, self.collection)
            version = int((getattr(info.config, "metadata", None) or {}).get("schema_version", 1))
            if version > SCHEMA_VERSION:
                raise SchemaError(f"collection {self.collection!r} has schema {version}; this code knows up to "
                                  f"{SCHEMA_VERSION}: upgrade the identity service")
            if version < SCHEMA_VERSION:
                raise SchemaError(f"collection {self.collection!r} has schema {version}: re-create it with "
                                  f"`influencers migrate-store` (or drop it and ingest again)")
        else:
            quantization = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=True)) if self.layout.quantize else None
            self._create(self.collection,
                         vectors_config=models.VectorParams(size=VECTOR_SIZE, distance=models.Distance.EUCLID),
                         hnsw_config=models.HnswConfigDiff(m=16, ef_construct=128),
                         shard_number=self.layout.shards, replication_factor=self.layout.replication,
                         quantization_config=quantization, metadata={"schema_version": SCHEMA_VERSION})
        indexed = set((self._call(c.get_collection, self.collection).payload_schema or {}).keys())
        # As on Edge (edge_store.py): indexes on disk, no HNSW subgraph per value, integers matched only.
        keyword = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, on_disk=True, enable_hnsw=False)
        integer = models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=True, range=False,
                                            on_disk=True, enable_hnsw=False)
        for key in KEYWORD_FIELDS:  # a collection of an older version gains the indexes added since
            if key not in indexed:
                self._call(c.create_payload_index, self.collection, key, keyword)
        for key in INTEGER_FIELDS:
            if key not in indexed:
                self._call(c.create_payload_index, self.collection, key, integer)
        if not self._call(c.collection_exists, self.side):
            self._create(self.side, vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT))
            self._call(c.create_payload_index, self.side, "kind", models.PayloadSchemaType.KEYWORD)

    def _create(self, name: str, **config: Any) -> None:
        """Creates collection `name`; one that another replica created meanwhile (two identity replicas starting
        on a new server: the second is answered 'already exists') is taken as it is."""
        try:
            self._call(self.client.create_collection, name, **config)
        except UnexpectedResponse:
            if not self._call(self.client.collection_exists, name):
                raise

    def where(self) -> str:
        return f"{self.collection!r} (a Qdrant server's collection)"

    def healthy(self) -> bool:
        try:
            self.client.get_collections()
        except Exception:  # noqa: BLE001 - any failure to reach the store means "not serving"
            return False
        return True

    def upsert(self, points: Sequence[FacePoint]) -> None:
        for chunk in chunks(points, 256):
            self._call(self.client.upsert, self.collection, [
                models.PointStruct(id=p.point_id, vector=np.asarray(p.vector, np.float32).tolist(),
                                   payload=p.record.to_payload()) for p in chunk], wait=True)
        videos = sorted({p.record.video_id for p in points if not p.record.reference})
        if videos:
            self._call(self.client.upsert, self.side, [
                models.PointStruct(id=side_id("video", v), vector=[0.0], payload={"kind": "video", "video_id": v})
                for v in videos], wait=True)

    def delete_points(self, point_ids: Sequence[str]) -> None:
        for chunk in chunks(list(point_ids), 1024):
            self._call(self.client.delete, self.collection, models.PointIdsList(points=list(chunk)), wait=True)

    def delete_video(self, video_id: str) -> list[FacePoint]:
        gone = self.faces_where("video_id", [video_id])
        if gone:
            self._call(self.client.delete, self.collection, models.FilterSelector(
                filter=_match("video_id", [video_id])), wait=True)
        self._call(self.client.delete, self.side, models.PointIdsList(points=[side_id("video", video_id)]),
                   wait=True)
        return gone

    def search(self, vectors: np.ndarray, limit: int) -> list[list[Hit]]:
        if len(vectors) == 0:
            return []
        out: list[list[Hit]] = []
        for chunk in chunks(list(vectors), 256):
            requests = [models.QueryRequest(query=np.asarray(v, np.float32).tolist(), limit=limit,
                                            filter=_match("copy", [0]), with_payload=list(HIT_FIELDS),
                                            params=models.SearchParams(hnsw_ef=max(limit, SEARCH_EF))) for v in chunk]
            for r in self._call(self.client.query_batch_points, self.collection, requests):
                out.append([hit_of(packed(str(p.id)), p.payload, p.score) for p in r.points])
        return out

    def neighbour_ids(self, vectors: np.ndarray, limit: int) -> list[list[tuple[bytes, float]]]:
        out: list[list[tuple[bytes, float]]] = []
        for chunk in chunks(list(vectors), 256):
            requests = [models.QueryRequest(query=np.asarray(v, np.float32).tolist(), limit=limit,
                                            filter=_match("copy", [0]), with_payload=False,
                                            params=models.SearchParams(hnsw_ef=limit)) for v in chunk]
            for r in self._call(self.client.query_batch_points, self.collection, requests):
                out.append([(packed(str(p.id)), float(p.score)) for p in r.points])
        return out

    def faces_page(self, where: tuple[str, Sequence[str | int]] | None, offset: Any, with_vectors: bool,
                   fields: Sequence[str] | None = None) -> tuple[list[FacePoint], Any]:
        points, offset = self._call(self.client.scroll, self.collection, scroll_filter=_match(*where) if where
                                    else None, limit=PAGE, offset=offset,
                                    with_payload=list(fields) if fields else True, with_vectors=with_vectors)
        return [FacePoint(str(p.id), np.asarray(p.vector, np.float32) if with_vectors else np.zeros(0, np.float32),
                          FaceRecord.from_payload(dict(p.payload or {}))) for p in points], offset

    def columns_page(self, offset: Any, fields: Sequence[str]) -> tuple[FaceColumns, Any]:
        points, offset = self._call(self.client.scroll, self.collection, limit=PAGE, offset=offset,
                                    with_payload=list(fields), with_vectors=True)
        vectors = np.array([p.vector for p in points], np.float32).reshape(len(points), VECTOR_SIZE)
        return FaceColumns([packed(str(p.id)) for p in points], vectors,
                           [dict(p.payload or {}) for p in points]), offset

    def set_fields(self, point_ids: Sequence[str], fields: dict[str, Any]) -> None:
        for chunk in chunks(list(point_ids), 1024):
            self._call(self.client.set_payload, self.collection, fields, points=list(chunk), wait=True)

    def influencer_counts(self) -> dict[str, int]:
        hits = self._call(self.client.facet, self.collection, "influencer_id", limit=10_000_000, exact=True).hits
        # The engine's index may keep a value whose faces all moved away, with a count of 0: not an influencer.
        return {str(h.value): int(h.count) for h in hits if h.count > 0}

    def count(self) -> int:
        return int(self._call(self.client.count, self.collection, exact=True).count)

    def video_page(self, page_token: str, page_size: int) -> tuple[list[str], str]:
        points, offset = self._call(self.client.scroll, self.side, scroll_filter=_match("kind", ["video"]),
                                    limit=page_size, offset=page_token or None, with_payload=True)
        return [str((p.payload or {})["video_id"]) for p in points], str(offset) if offset is not None else ""

    def get_side(self, kind: str, key: str) -> dict[str, Any] | None:
        points = self._call(self.client.retrieve, self.side, [side_id(kind, key)], with_payload=True)
        return dict(points[0].payload or {}) if points else None

    def set_side(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        pid = side_id(kind, key)
        if value is None:
            self._call(self.client.delete, self.side, models.PointIdsList(points=[pid]), wait=True)
        else:
            self._call(self.client.upsert, self.side, [models.PointStruct(
                id=pid, vector=[0.0], payload={**value, "kind": kind})], wait=True)

    def clear_side(self, kind: str) -> None:
        self._call(self.client.delete, self.side, models.FilterSelector(filter=_match("kind", [kind])), wait=True)

    def side_records(self, kind: str) -> Iterator[dict[str, Any]]:
        offset = None
        while True:
            points, offset = self._call(self.client.scroll, self.side, scroll_filter=_match("kind", [kind]),
                                        limit=PAGE, offset=offset, with_payload=True)
            for p in points:
                yield dict(p.payload or {})
            if offset is None:
                return

    def optimize(self) -> None:
        """A server indexes by itself."""

    def close(self) -> None:
        self.client.close()
