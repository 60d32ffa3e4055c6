"""The face store port: one collection of 128-d face encodings (Euclidean) with a typed record per face, and
a small side collection of influencer names, batch markers and the list of stored videos.

Two adapters implement it, chosen by the settings alone (as qdrant-client picks local or remote in its
constructor): `edge_store.EdgeFaceStore` (the Qdrant engine in-process, Qdrant Edge, under DATA/qdrant/) and
`server_store.ServerFaceStore` (a Qdrant server through qdrant-client, when QDRANT_URL is set)."""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np

VECTOR_SIZE = 128
# The HNSW beam of a kNN search (at least its limit); the engine's default is ef_construct (128). On the 1M bench
# store (300 queries against exact search) 64 finds the nearest face always and each influencer's nearest face
# under 0.6 in 99.8% of cases, as 128 does (what matching reads); of all 32 neighbours 97.3% (128: 99.2%).
SEARCH_EF = 64
SCHEMA_VERSION = 2  # 2: typed record with vhash/copy fields, the video list in the side collection
NAMESPACE = uuid.UUID("5b1d6c2e-8f0a-4f7e-9c1d-2a3b4c5d6e7f")
# Payload fields with an index: every filtered read and the duplicate lookup use one of them.
KEYWORD_FIELDS = ("video_id", "influencer_id", "vhash", "pinned")
INTEGER_FIELDS = ("copy", "reference")
T = TypeVar("T")


class SchemaError(RuntimeError):
    """The store was written by a newer version of this code, or by a layout this code cannot read."""


@dataclass
class FaceRecord:
    """What the store keeps beside one encoded face. Times in seconds from the start of the video; `box` is
    (top, right, bottom, left) in pixels of the sampled frame; qualities in [0, 1]. The person-level fields
    (first/last seen, faces, screen time, best quality, crop, co-occurring people) repeat on each face of the
    person, so that any face tells its person's appearance."""

    video_id: str
    person: int
    influencer_id: str
    timestamp_s: float = 0.0
    box: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    quality: float = 0.0
    first_seen_s: float = 0.0
    last_seen_s: float = 0.0
    faces: int = 1
    screen_time_s: float = 0.0
    best_quality: float = 0.0
    crop: str = ""
    cooccurs: list[int] = field(default_factory=list)
    ambiguous: bool = False
    # Hash of the encoding: a repost (the same frames in other bytes) gives the same encodings.
    vhash: str = ""
    # 1: an exact copy of a face stored earlier; copies are kept (they are appearances) but not searched, so
    # that a video posted ten times does not fill every neighbour list with itself.
    copy: int = 0
    # The influencer the analyst put this face's person in by hand (merge, split, move, name, a review
    # answer): re-derivation keeps people of one pin together and people of two pins apart. "" = free.
    pinned: str = ""
    # 1: a reference photo of an enrolled person: searched and clustered, never an appearance.
    reference: int = 0
    # When the person is on screen, from every sampled frame they were seen in (segments.to_flat: four
    # floats a segment). Empty on faces stored before segments were kept.
    segments: list[float] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return dict(self.__dict__)  # the fields are flat: a copy of the instance dict (asdict is 10x slower)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> FaceRecord:
        return cls(
            video_id=str(payload["video_id"]), person=int(payload["person"]),
            influencer_id=str(payload.get("influencer_id", "")), timestamp_s=float(payload.get("timestamp_s", 0.0)),
            box=[int(v) for v in payload.get("box", [0, 0, 0, 0])], quality=float(payload.get("quality", 0.0)),
            first_seen_s=float(payload.get("first_seen_s", 0.0)), last_seen_s=float(payload.get("last_seen_s", 0.0)),
            faces=int(payload.get("faces", 1)), screen_time_s=float(payload.get("screen_time_s", 0.0)),
            best_quality=float(payload.get("best_quality", 0.0)), crop=str(payload.get("crop", "")),
            cooccurs=[int(v) for v in payload.get("cooccurs", [])], ambiguous=bool(payload.get("ambiguous", False)),
            vhash=str(payload.get("vhash", "")), copy=int(payload.get("copy", 0)),
            pinned=str(payload.get("pinned", "")), reference=int(payload.get("reference", 0)),
            segments=[float(v) for v in payload.get("segments", [])])

    @property
    def person_key(self) -> tuple[str, int]:
        return (self.video_id, self.person)


@dataclass
class FacePoint:
    point_id: str
    vector: np.ndarray  # (128,) float32; empty when read without vectors
    record: FaceRecord


class FaceColumns(NamedTuple):
    """Faces as columns, the whole-store read of a re-cluster (no record object per face): packed point ids
    (`packed`), the vectors (k, 128) float32, and each face's payload fields as stored."""

    ids: list[bytes]
    vectors: np.ndarray
    payloads: list[dict[str, Any]]

    @classmethod
    def of(cls, points: Sequence[FacePoint]) -> FaceColumns:
        vectors = np.stack([p.vector for p in points]) if points else np.zeros((0, VECTOR_SIZE), np.float32)
        return cls([packed(p.point_id) for p in points], vectors.astype(np.float32, copy=False),
                   [p.record.to_payload() for p in points])


class Hit(NamedTuple):
    """A stored face near a query: its id (packed: 16 bytes, as packed() gives; a search returns thousands of
    hits a video, and no caller needs the text), influencer, video, Euclidean distance to the query, and encoding
    hash (its record's vhash)."""

    point: bytes
    influencer_id: str
    video_id: str
    distance: float
    vhash: str = ""


HIT_FIELDS = ("influencer_id", "video_id", "vhash")  # the payload fields a search reads of each hit


def hit_of(point: bytes, payload: dict[str, Any] | None, distance: float) -> Hit:
    """A search hit from the engine's answer: the packed point id, its payload's HIT_FIELDS, the distance."""
    got = payload or {}
    return Hit(point, str(got.get("influencer_id", "")), str(got.get("video_id", "")), float(distance),
               str(got.get("vhash", "")))


def packed(point_id: str) -> bytes:
    """A point id (a UUID) as its 16 bytes."""
    return bytes.fromhex(point_id.replace("-", ""))


def unpacked(key: bytes) -> str:
    """The point id of `packed`'s 16 bytes (numpy's "S16" drops trailing zero bytes: they are put back)."""
    return str(uuid.UUID(bytes=key.ljust(16, b"\0")))


def point_id(video_id: str, person: int, face: int) -> str:
    """Deterministic point id: analysing a video again overwrites, never duplicates, its faces."""
    return str(uuid.uuid5(NAMESPACE, f"{video_id}:{person}:{face}"))


def side_id(kind: str, key: str) -> str:
    """Id of a record of the side collection (a name, a batch marker, a stored video)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def vector_hash(vector: np.ndarray) -> str:
    """Hash of an encoding rounded to 1e-5: the same frames decoded again encode to the same floats. Two
    encoders (or builds) ~5e-7 apart hash ~60% of faces differently (a component near a rounding edge): a store
    keeps one encoder (FaceStore.recorded_encoder), and a repost's faces are also found by distance
    (assignment.SAME_FACE)."""
    rounded = np.round(np.asarray(vector, np.float64), 5) + 0.0  # + 0.0 folds -0.0 into 0.0
    return hashlib.sha1(rounded.astype("<f8").tobytes()).hexdigest()[:20]


class FaceStore(ABC):
    """The operations identity needs of its vector store. Every write waits until it is applied."""

    @abstractmethod
    def healthy(self) -> bool:
        """True while the store answers."""

    @abstractmethod
    def upsert(self, points: Sequence[FacePoint]) -> None:
        """Inserts or replaces faces by point id, and notes their videos in the video list (reference faces
        of enrolled people are no video: they are never listed)."""

    @abstractmethod
    def delete_video(self, video_id: str) -> list[FacePoint]:
        """Removes every face of a video (and the video from the list); returns the faces removed."""

    @abstractmethod
    def delete_points(self, point_ids: Sequence[str]) -> None:
        """Removes the given faces (an erasure); the video list is left as it is."""

    @abstractmethod
    def search(self, vectors: np.ndarray, limit: int) -> list[list[Hit]]:
        """For each row of `vectors` (n, 128), up to `limit` nearest stored faces that are not copies,
        nearest first."""

    @abstractmethod
    def neighbour_ids(self, vectors: np.ndarray, limit: int) -> list[list[tuple[bytes, float]]]:
        """Like `search`, but only (packed point id, distance), with the smallest HNSW beam (ef = limit): the
        cheap query that builds a neighbour graph over the whole store (ids as `packed` gives them: no
        string per hit)."""

    @abstractmethod
    def faces_page(self, where: tuple[str, Sequence[str | int]] | None, offset: Any, with_vectors: bool,
                   fields: Sequence[str] | None = None) -> tuple[list[FacePoint], Any]:
        """One page of the faces (all, or those whose indexed field `where[0]` is one of `where[1]`) from
        `offset` (None: the start), and the offset of the next page (None: that was the last). With `fields`,
        only those payload fields are read (the others keep FaceRecord's defaults)."""

    @abstractmethod
    def columns_page(self, offset: Any, fields: Sequence[str]) -> tuple[FaceColumns, Any]:
        """One page of every stored face with its vector and the payload fields `fields`, as columns, from
        `offset` (None: the start), and the offset of the next page (None: that was the last)."""

    @abstractmethod
    def set_fields(self, point_ids: Sequence[str], fields: dict[str, Any]) -> None:
        """Sets payload fields of the given faces, leaving the others as they are."""

    @abstractmethod
    def influencer_counts(self) -> dict[str, int]:
        """Faces per influencer id (from the payload index, without reading the faces)."""

    @abstractmethod
    def count(self) -> int:
        """The number of stored faces."""

    @abstractmethod
    def video_page(self, page_token: str, page_size: int) -> tuple[list[str], str]:
        """Stored video ids, a page at a time: (ids, next token); an empty token is the first page on the
        way in and the last page on the way out."""

    @abstractmethod
    def get_side(self, kind: str, key: str) -> dict[str, Any] | None:
        """A record of the side collection (name, batch marker), or None."""

    @abstractmethod
    def set_side(self, kind: str, key: str, value: dict[str, Any] | None) -> None:
        """Writes (or, with None, removes) a record of the side collection."""

    @abstractmethod
    def side_records(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every side record of one kind (names, hidden flags, review answers, audit records...)."""

    @abstractmethod
    def clear_side(self, kind: str) -> None:
        """Removes every side record of one kind."""

    @abstractmethod
    def optimize(self) -> None:
        """Builds the search index over what was written (a server does this by itself)."""

    @abstractmethod
    def where(self) -> str:
        """The store, as a message names it (a folder, or a server's collection)."""

    def room_folder(self) -> Path | None:
        """The folder on this machine whose disk the store's writes need room on (Edge's), or None (a server's)."""
        return None

    def scrub(self) -> None:
        """After an erasure: removes what deleted points left in the store's files (Edge rewrites its shards;
        a Qdrant server reclaims deleted points by its own vacuum, which this cannot force)."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Releases the store."""

    # ---- built on the operations above --------------------------------------------------------------
    def _pages(self, where: tuple[str, Sequence[str | int]] | None, with_vectors: bool,
               fields: Sequence[str] | None = None) -> Iterator[FacePoint]:
        for page in _paged(lambda offset: self.faces_page(where, offset, with_vectors, fields)):
            yield from page

    def scroll(self, with_vectors: bool = False, fields: Sequence[str] | None = None) -> Iterator[FacePoint]:
        """Every stored face, a page at a time (`fields`: only those payload fields)."""
        return self._pages(None, with_vectors, fields)

    def columns(self, fields: Sequence[str]) -> Iterator[FaceColumns]:
        """Every stored face with its vector and the payload fields `fields`, a page of columns at a time."""
        return _paged(lambda offset: self.columns_page(offset, fields))

    def faces_where(self, key: str, values: Sequence[str | int], with_vectors: bool = False) -> list[FacePoint]:
        """The faces whose indexed payload field `key` is one of `values`."""
        out: list[FacePoint] = []
        for chunk in chunks(list(values), 512):
            out.extend(self._pages((key, chunk), with_vectors))
        return out

    def faces_in(self, video_ids: str | Sequence[str], with_vectors: bool = False) -> list[FacePoint]:
        return self.faces_where("video_id", [video_ids] if isinstance(video_ids, str) else list(video_ids),
                                with_vectors)

    def faces_of(self, influencer_ids: str | Sequence[str], with_vectors: bool = False) -> list[FacePoint]:
        wanted = [influencer_ids] if isinstance(influencer_ids, str) else list(influencer_ids)
        return self.faces_where("influencer_id", wanted, with_vectors)

    def set_influencer(self, assignments: dict[str, list[str]]) -> None:
        """`assignments`: influencer_id -> point ids to give it."""
        for influencer_id, ids in assignments.items():
            self.set_fields(ids, {"influencer_id": influencer_id})

    def names(self) -> dict[str, str]:
        return {str(r["influencer_id"]): str(r["name"]) for r in self.side_records("name")}

    def set_name(self, influencer_id: str, name: str) -> None:
        self.set_side("name", influencer_id, {"influencer_id": influencer_id, "name": name} if name else None)

    def set_pins(self, pins: dict[str, list[str]]) -> None:
        """`pins`: influencer id (or "" to free) -> point ids whose `pinned` field it becomes."""
        for pin, ids in pins.items():
            self.set_fields(ids, {"pinned": pin})

    def recorded_encoder(self) -> str | None:
        """Who encoded the faces of this store ("dlib" or "opencv", settings.ENCODERS), as recorded when it was
        first used; None when nothing is recorded (a new store, or one made before the record: then "dlib")."""
        record = self.get_side("meta", "encoder")
        return str(record["encoder"]) if record and record.get("encoder") else None

    def record_encoder(self, encoder: str) -> None:
        """Records who encodes this store's faces (read by every replica that opens it)."""
        self.set_side("meta", "encoder", {"encoder": encoder})

    def holds_hashes(self) -> bool:
        """Whether the store keeps any encoding hash: a face, or the keyed hashes of an erased person's faces
        (erasure.py): what an encoder other than the one that made them would not match."""
        return self.count() > 0 or any(r.get("faces") for r in self.side_records("erased"))

    def hidden(self) -> set[str]:
        """Influencers marked "not an influencer"."""
        return {str(r["influencer_id"]) for r in self.side_records("hidden")}

    def set_hidden(self, influencer_id: str, hidden: bool) -> None:
        self.set_side("hidden", influencer_id, {"influencer_id": influencer_id} if hidden else None)

    def video_ids(self) -> Iterator[str]:
        token = ""
        while True:
            page, token = self.video_page(token, 1000)
            yield from page
            if not token:
                return


def _paged(fetch: Callable[[Any], tuple[T, Any]]) -> Iterator[T]:
    """The pages `fetch(offset)` gives from offset None until the next offset it gives back is None."""
    offset = None
    while True:
        page, offset = fetch(offset)
        yield page
        if offset is None:
            return


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
