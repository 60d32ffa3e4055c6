"""The face store on Qdrant Edge: the Qdrant engine in-process (HNSW, payload indexes, a write-ahead log), in
two shards under one folder: the faces, and a side shard of names, batch markers and the video list. One
process owns the folder; a deployment with several identity replicas uses a Qdrant server instead."""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from services.common.damage import DISK_FULL, MIB, DiskFull, StoreDamaged, check_room, engine_error, is_disk_full
from services.identity.edge_check import check_edge_files
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
    side_id,
)

PAGE = 1024
# HNSW as on the server (m=16); search scans plainly below ~20k faces a segment (10 MB of vectors).
HNSW = dict(m=16, ef_construct=128, full_scan_threshold=10_000)


def _match(key: str, values: Sequence[str | int]) -> qe.Filter:
    match = qe.MatchValue(value=values[0]) if len(values) == 1 else qe.MatchAny(any=list(values))
    return qe.Filter(must=[qe.FieldCondition(key=key, match=match)])


_NOT_COPY = _match("copy", [0])
RESTORE = "restore DATA/qdrant/edge from a backup, or remove it and ingest again"
# The engine's words for a page it cannot read (a bare Exception, as every engine error): a payload whose LZ4
# block does not decode, a vector or payload past the end of its file.
_DAMAGE_WORDS = ("failed to decode value", "is out of bounds", "gridstore io error")


# What every search reads (vectors, and the payload indexes its filter checks) is mapped from its files and
# read into the page cache at open (Memory.Cached): no heap of its own, no rebuild at open. Payloads stay
# cold (read when a hit is returned). No payload index grows the HNSW graph a subgraph of its own: no search
# needs one, and at 1M faces the subgraphs (one for each value held by ~20k faces or more, such as copy=0)
# took most of the index build. An integer field is only matched.
def _keyword() -> qe.KeywordIndexParams:
    return qe.KeywordIndexParams(memory=qe.Memory.Cached, enable_hnsw=False)


def _integer() -> qe.IntegerIndexParams:
    return qe.IntegerIndexParams(lookup=True, range=False, memory=qe.Memory.Cached, enable_hnsw=False)


def _settings(params: Any) -> tuple[Any, ...]:
    return tuple(getattr(params, name, None) for name in ("memory", "enable_hnsw", "lookup", "range"))


def _open(path: Path, size: int, distance: qe.Distance, keywords: Sequence[str], integers: Sequence[str],
          hnsw: bool) -> qe.EdgeShard:
    if (path / "edge_config.json").exists():
        shard = qe.EdgeShard.load(str(path))
    else:
        path.mkdir(parents=True, exist_ok=True)
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=size, distance=distance, memory=qe.Memory.Cached),
            hnsw_config=qe.HnswIndexConfig(**HNSW) if hnsw else None,
        )
        shard = qe.EdgeShard.create(str(path), config)
    indexed = shard.info().payload_schema
    wanted = [(key, _keyword()) for key in keywords] + [(key, _integer()) for key in integers]
    for key, params in wanted:  # a store of an older version gains the indexes added since, or is re-indexed
        if key not in indexed or _settings(indexed[key].params) != _settings(params):
            shard.update(qe.UpdateOperation.create_field_index(key, params))
    return shard


# The two shards: how each is made (vector size, distance, keyword and integer indexes, HNSW or not).
_SHARDS: dict[str, tuple[int, qe.Distance, Sequence[str], Sequence[str], bool]] = {
    "faces": (VECTOR_SIZE, qe.Distance.Euclid, KEYWORD_FIELDS, INTEGER_FIELDS, True),
    "side": (1, qe.Distance.Dot, ("kind",), (), False),
}


def unallocated_bytes(folder: Path) -> int:
    """Bytes of the face store under `folder` that opening it takes from the disk: the holes of its vector chunk
    files (`*/vector_storage/*/chunk_*.mmap`, 32 MiB each, made sparse), which the engine maps and fills in at
    open (seen with their st_blocks before and after an open: ~60 MiB for a store filled to its margin; the WAL's
    and payloads' holes stay holes, so they are not counted)."""
    holes = 0
    for path in folder.glob("*/segments/*/vector_storage/*/chunk_*.mmap"):
        with contextlib.suppress(OSError):  # gone meanwhile: nothing to map
            info = path.stat()
            holes += max(0, info.st_size - info.st_blocks * 512)
    return holes


def _open_shard(folder: Path, name: str) -> qe.EdgeShard:
    finish_rewrite(folder, name)
    try:
        return _open(folder / name, *_SHARDS[name])
    except Exception as exc:  # the engine's errors are bare Exceptions: one line naming the shard instead
        if is_disk_full(exc):
            raise DiskFull(f"{DISK_FULL}: face store {folder / name} ({engine_error(exc)})") from None
        raise StoreDamaged(f"face store {folder / name} cannot be opened: {engine_error(exc)}; "
                           "restore DATA/qdrant/edge from a backup, or remove it and ingest again") from None


def finish_rewrite(folder: Path, name: str) -> None:
    """Completes or undoes a rewrite of shard `name` that a kill interrupted (see EdgeFaceStore.scrub): a
    finished copy (its marker written) takes the shard's place; an unfinished one is removed."""
    path, new, old = folder / name, folder / f"{name}.rewriting", folder / f"{name}.old"
    marker = folder / f"{name}.rewritten"
    if marker.exists():
        if new.exists():
            if path.exists():
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
            new.rename(path)
        shutil.rmtree(old, ignore_errors=True)
        marker.unlink()
    else:
        shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _create(folder: Path) -> None:
    """Makes a new store's shards in a folder beside `folder` and renames it into place: a store is whole or not
    made. A kill or a full disk while the shards were made in place (about 0.6 s at a first start) left faces/
    without side/, a store every later start refused as damaged, to be restored from a backup."""
    making = folder.with_name(f"{folder.name}.creating")
    shutil.rmtree(making, ignore_errors=True)  # what a kill left of an earlier try
    try:
        for name in _SHARDS:
            _open_shard(making, name).close()
        making.replace(folder)  # onto nothing, or onto an empty folder made beforehand
    except BaseException:
        shutil.rmtree(making, ignore_errors=True)
        raise


class EdgeFaceStore(FaceStore):
    """`min_free_bytes`: writes are refused (DiskFull) while the folder's filesystem has less free space."""

    def __init__(self, folder: Path, min_free_bytes: int = 0) -> None:
        self.folder = folder
        self.min_free_bytes = min_free_bytes
        # The engine is thread-safe, but a write and the reads that check it must not interleave: one lock.
        self._lock = threading.RLock()
        check_edge_files(folder)
        if not folder.exists() or not any(folder.iterdir()):
            _create(folder)
        elif min_free_bytes > 0:
            # Opening maps the shards' vector chunks and fills in their holes (~60 MiB after a store was filled
            # to its margin); on a full disk that is a SIGBUS in the engine's open. Room for them on top.
            holes = unallocated_bytes(folder)
            check_room(folder, min_free_bytes + holes, f"opening the face store (which fills in {holes / MIB:.0f} MiB "
                       "of its files as it opens, on top of the space kept free)")
        self._faces = _open_shard(folder, "faces")
        try:
            self._side = _open_shard(folder, "side")
        except BaseException:
            self._faces.close()
            raise
        try:
            self._check_schema()
            self._check_floor()
        except (StoreDamaged, SchemaError, DiskFull):  # a new store's schema record meeting a full disk: no damage
            self._close_shards()
            raise
        except Exception as exc:  # the engine's read errors are bare Exceptions: a damaged page, in one line
            self._close_shards()
            raise StoreDamaged(f"face store {folder / 'side'} cannot be read ({engine_error(exc)}); {RESTORE}") \
                from None
        except BaseException:
            self._close_shards()
            raise

    def where(self) -> str:
        return str(self.folder)

    def room_folder(self) -> Path | None:
        return self.folder

    def _close_shards(self) -> None:
        self._faces.close()
        self._side.close()

    @contextlib.contextmanager
    def _reading(self, name: str) -> Iterator[None]:
        """StoreDamaged naming shard `name` when the engine cannot read a page of it (damage the checks at
        start cannot see without reading every page): one line saying what to do, never a traceback."""
        try:
            yield
        except BaseException as exc:  # a Rust panic of the engine is a BaseException (pyo3's PanicException)
            panic = type(exc).__name__ == "PanicException"
            if not panic and not (isinstance(exc, Exception) and any(w in str(exc).lower() for w in _DAMAGE_WORDS)):
                raise
            raise StoreDamaged(f"face store {self.folder / name} cannot be read ({engine_error(exc)}); "
                               f"{RESTORE}") from None

    def _check_floor(self) -> None:
        """StoreDamaged when fewer faces are readable than the store is known to hold at least (a segment's
        id mapping lost, a segment removed: the engine opens what it can read, silently)."""
        floor = self.get_side("meta", "floor")
        have = self.count()
        if floor is not None and have < int(floor.get("faces", 0)):
            raise StoreDamaged(f"face store {self.folder}: only {have} of at least {int(floor['faces'])} faces can "
                               "be read (a segment is damaged or missing); restore DATA/qdrant/edge from a backup, "
                               "or remove it and ingest again")

    def _set_floor(self, faces: int) -> None:
        self._side.update(qe.UpdateOperation.upsert_points([
            qe.Point(side_id("meta", "floor"), [0.0], {"kind": "meta", "faces": max(0, faces)})]))

    def _update(self, shard: qe.EdgeShard, operation: Any, what: str, grows: bool = True) -> None:
        """One write: refused first when the disk has no room (a write that grows the store), and the
        engine's "no space" error turned into DiskFull."""
        if grows:
            check_room(self.folder, self.min_free_bytes, what)
        try:
            shard.update(operation)
        except Exception as exc:
            if is_disk_full(exc):
                raise DiskFull(f"{DISK_FULL}: face store {self.folder} ({engine_error(exc)}): {what} refused; "
                               "free some space and run again") from None
            raise

    def _check_schema(self) -> None:
        schema = self.get_side("schema", "faces")
        if schema is None:
            self.set_side("schema", "faces", {"version": SCHEMA_VERSION})
        elif int(schema.get("version", 0)) > SCHEMA_VERSION:
            raise SchemaError(f"the face store in {self.folder} has schema {schema['version']}; this code knows "
                              f"up to {SCHEMA_VERSION}: upgrade influencers")

    def healthy(self) -> bool:
        with self._lock:
            try:
                self._faces.info()
            except Exception:  # noqa: BLE001 - any failure to reach the store means "not serving"
                return False
            return True

    def upsert(self, points: Sequence[FacePoint]) -> None:
        with self._lock:
            for chunk in chunks(points, 256):
                self._update(self._faces, qe.UpdateOperation.upsert_points([
                    qe.Point(p.point_id, np.asarray(p.vector, np.float32).tolist(), p.record.to_payload())
                    for p in chunk]), "storing faces")
            videos = sorted({p.record.video_id for p in points if not p.record.reference})
            if videos:
                self._update(self._side, qe.UpdateOperation.upsert_points([
                    qe.Point(side_id("video", v), [0.0], {"kind": "video", "video_id": v}) for v in videos]),
                    "storing faces")

    def delete_points(self, point_ids: Sequence[str]) -> None:
        with self._lock:
            self._set_floor(self.count() - len(point_ids))  # first: a kill after the delete is no damage
            for chunk in chunks(list(point_ids), 1024):
                self._faces.update(qe.UpdateOperation.delete_points(list(chunk)))

    def delete_video(self, video_id: str) -> list[FacePoint]:
        with self._lock:
            gone = self.faces_where("video_id", [video_id])
            self._set_floor(self.count() - len(gone))
            self._faces.update(qe.UpdateOperation.delete_points_by_filter(_match("video_id", [video_id])))
            self._side.update(qe.UpdateOperation.delete_points([side_id("video", video_id)]))
            return gone

    def search(self, vectors: np.ndarray, limit: int) -> list[list[Hit]]:
        if len(vectors) == 0:
            return []
        params = qe.SearchParams(hnsw_ef=max(limit, SEARCH_EF))
        requests = [qe.QueryRequest(limit=limit, query=qe.Query.Nearest(np.asarray(v, np.float32).tolist()),
                                    filter=_NOT_COPY, with_payload=list(HIT_FIELDS), params=params)
                    for v in vectors]
        out: list[list[Hit]] = []
        with self._lock, self._reading("faces"):
            for chunk in chunks(requests, 256):
                for hits in self._faces.query_batch(qe.QueryBatchRequest(list(chunk))):
                    out.append([hit_of(h.id.bytes, h.payload, h.score) for h in hits])
        return out

    def neighbour_ids(self, vectors: np.ndarray, limit: int) -> list[list[tuple[bytes, float]]]:
        params = qe.SearchParams(hnsw_ef=limit)
        requests = [qe.QueryRequest(limit=limit, query=qe.Query.Nearest(np.asarray(v, np.float32).tolist()),
                                    filter=_NOT_COPY, with_payload=False, params=params) for v in vectors]
        out: list[list[tuple[bytes, float]]] = []
        for chunk in chunks(requests, 256):
            with self._lock, self._reading("faces"):
                found = self._faces.query_batch(qe.QueryBatchRequest(list(chunk)))
            out.extend([(h.id.bytes, h.score) for h in hits] for hits in found)  # the engine gives uuid.UUID
        return out

    def faces_page(self, where: tuple[str, Sequence[str | int]] | None, offset: Any, with_vectors: bool,
                   fields: Sequence[str] | None = None) -> tuple[list[FacePoint], Any]:
        flt = _match(*where) if where else None
        with self._lock, self._reading("faces"):
            records, offset = self._faces.scroll(qe.ScrollRequest(
                offset=offset, limit=PAGE, filter=flt, with_payload=list(fields) if fields else True,
                with_vector=with_vectors))
        return [FacePoint(str(r.id), np.asarray(r.vector, np.float32) if with_vectors else np.zeros(0, np.float32),
                          FaceRecord.from_payload(r.payload or {})) for r in records], offset

    def columns_page(self, offset: Any, fields: Sequence[str]) -> tuple[FaceColumns, Any]:
        with self._lock, self._reading("faces"):
            records, offset = self._faces.scroll(qe.ScrollRequest(
                offset=offset, limit=PAGE, with_payload=list(fields), with_vector=True))
        vectors = np.array([r.vector for r in records], np.float32).reshape(len(records), VECTOR_SIZE)
        return FaceColumns([r.id.bytes for r in records], vectors, [r.payload or {} for r in records]), offset

    def set_fields(self, point_ids: Sequence[str], fields: dict[str, Any]) -> None:
        with self._lock:
            for chunk in chunks(list(point_ids), 1024):
                self._update(self._faces, qe.UpdateOperation.set_payload(list(chunk), fields), "a correction")

    def influencer_counts(self) -> dict[str, int]:
        with self._lock:
            hits = self._faces.facet(qe.FacetRequest(key="influencer_id", limit=10_000_000, exact=True)).hits
        # The engine's index may keep a value whose faces all moved away, with a count of 0: not an influencer.
        return {str(h.value): int(h.count) for h in hits if h.count > 0}

    def count(self) -> int:
        with self._lock:
            return int(self._faces.count(qe.CountRequest(exact=True)))

    def video_page(self, page_token: str, page_size: int) -> tuple[list[str], str]:
        with self._lock, self._reading("side"):
            records, offset = self._side.scroll(qe.ScrollRequest(
                offset=page_token or None, limit=page_size, filter=_match("kind", ["video"]), with_payload=True))
        return [str((r.payload or {})["video_id"]) for r in records], str(offset) if offset is not None else ""

    def get_side(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock, self._reading("side"):
            records = self._side.retrieve([side_id(kind, key)], with_payload=True, with_vector=False)
        return dict(records[0].payload or {}) if records else None

    def set_side(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        with self._lock:
            if value is None:
                self._side.update(qe.UpdateOperation.delete_points([side_id(kind, key)]))
            else:
                self._update(self._side, qe.UpdateOperation.upsert_points([
                    qe.Point(side_id(kind, key), [0.0], {**value, "kind": kind})]), f"storing a {kind} record")

    def clear_side(self, kind: str) -> None:
        with self._lock:
            self._side.update(qe.UpdateOperation.delete_points_by_filter(_match("kind", [kind])))

    def side_records(self, kind: str) -> Iterator[dict[str, Any]]:
        offset = None
        while True:
            with self._lock, self._reading("side"):
                records, offset = self._side.scroll(qe.ScrollRequest(
                    offset=offset, limit=PAGE, filter=_match("kind", [kind]), with_payload=True))
            for r in records:
                yield dict(r.payload or {})
            if offset is None:
                return

    def scrub(self) -> None:
        """Rewrites both shards from what they hold now, so that nothing deleted stays in their files: a
        deleted point keeps its vector and payload in the segment's mapped pages (only a flag marks it
        gone), in the payload index's dictionaries, and in the write-ahead log, until a vacuum that the
        engine's thresholds (20% of a segment deleted, 1,000 points) may never start. The copy goes to
        `<shard>.rewriting`, a marker says it is complete, and it is renamed into place; a kill at any
        point leaves either shard whole (finish_rewrite completes or undoes it at the next open)."""
        with self._lock:
            self._faces = self._rewrite("faces", self._faces)
            self._side = self._rewrite("side", self._side)

    def _rewrite(self, name: str, shard: qe.EdgeShard) -> qe.EdgeShard:
        size = sum(p.stat().st_size for p in (self.folder / name).rglob("*") if p.is_file())
        check_room(self.folder, self.min_free_bytes + size, f"rewriting {name}/ after an erasure")
        new = self.folder / f"{name}.rewriting"
        shutil.rmtree(new, ignore_errors=True)
        copy = _open(new, *_SHARDS[name])
        offset = None
        while True:
            records, offset = shard.scroll(qe.ScrollRequest(offset=offset, limit=PAGE, with_payload=True,
                                                            with_vector=True))
            if records:
                copy.update(qe.UpdateOperation.upsert_points([
                    qe.Point(str(r.id), list(r.vector), dict(r.payload or {})) for r in records]))
            if offset is None:
                break
        if _SHARDS[name][4]:  # the copy is searched as the shard was: its HNSW index is built now
            copy.optimize()
        copy.flush()
        copy.close()
        shard.close()
        (self.folder / f"{name}.rewritten").touch()
        finish_rewrite(self.folder, name)
        return _open(self.folder / name, *_SHARDS[name])

    def optimize(self) -> None:
        with self._lock:
            self._faces.optimize()
            self._faces.flush()
            self._side.flush()

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Exception):  # a store already failing: the floor stays as it was
                self._set_floor(self.count())
            self._faces.close()
            self._side.close()
