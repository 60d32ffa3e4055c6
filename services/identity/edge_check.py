"""The files of a Qdrant Edge face store checked before the engine opens them, so that damage is refused in
one line naming it instead of a traceback from the engine, or, worse, a store that opens with part of its
faces (the engine loads whatever segments it finds: a deleted segments/ folder opens as an empty store, a
deleted side/ as a store without names or crops)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from services.common.damage import StoreDamaged

SHARDS = ("faces", "side")
RESTORE = "restore DATA/qdrant/edge from a backup, or remove it and ingest again"


def check_edge_files(folder: Path) -> None:
    """StoreDamaged naming the first problem of the store in `folder` (an Edge store: faces/ and side/);
    nothing for a folder not made yet."""
    if not folder.exists():
        parent = next((p for p in [folder, *folder.parents] if p.exists()), folder)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreDamaged(f"face store {folder}: {parent} is read-only, the store cannot be created")
        return
    made = [name for name in SHARDS if (folder / name).exists()]
    if not made:
        return
    for name in SHARDS:
        shard = folder / name
        what = "the faces" if name == "faces" else "names, crops, batch markers and the video list"
        if not shard.is_dir():
            raise StoreDamaged(f"face store {folder}: {name}/ is missing ({what}); {RESTORE}")
        _check_shard(shard)


def _check_shard(shard: Path) -> None:
    config = shard / "edge_config.json"
    _json(config, "edge_config.json")
    for part in ("segments", "wal"):
        if not (shard / part).is_dir():
            raise StoreDamaged(f"face store {shard}: {part}/ is missing; {RESTORE}")
    segments = sorted(p for p in (shard / "segments").iterdir() if p.is_dir())
    if not segments:
        raise StoreDamaged(f"face store {shard}: segments/ is empty; {RESTORE}")
    for segment in segments:
        _json(segment / "segment.json", f"segments/{segment.name}/segment.json")
        _check_vector_chunks(shard, segment)
        _check_id_mappings(shard, segment)
        _check_pages(shard, segment)
    for path in [shard, shard / "segments", shard / "wal", *segments, *(shard / "wal").iterdir()]:
        if not os.access(path, os.W_OK):
            raise StoreDamaged(f"face store {shard}: {path.relative_to(shard.parent.parent)} is read-only; "
                               "give this process write access to DATA/qdrant")


def _check_vector_chunks(shard: Path, segment: Path) -> None:
    """StoreDamaged when a segment's chunked vector storage counts more vectors than its chunk files hold: the
    engine opens it without them, and the first read of a vector fails ("vector offset out of bounds")."""
    for storage in sorted((segment / "vector_storage").glob("*/")):
        config, status = storage / "config.json", storage / "status.dat"
        if not config.is_file() or not status.is_file() or status.stat().st_size != 8:
            continue  # not the chunked layout (or a storage the engine checks itself)
        try:
            layout = json.loads(config.read_text(encoding="utf-8"))
            per_chunk = int(layout["chunk_size_vectors"])
            vector_bytes = int(layout.get("chunk_size_bytes", 0)) // per_chunk if per_chunk > 0 else 0
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            continue
        held = int.from_bytes(status.read_bytes(), "little")  # the storage's vector count (u64)
        where = storage.relative_to(shard)
        for k in range(-(-held // per_chunk) if per_chunk > 0 else 0):
            chunk = storage / f"chunk_{k}.mmap"
            if not chunk.is_file():
                raise StoreDamaged(f"face store {shard}: {where}/chunk_{k}.mmap is missing ({held} vectors stored); "
                                   f"{RESTORE}")
            # Cut short, the engine opened it all the same and every read of a vector failed ("elements range
            # ... is out of bounds"): each new video's match, not the start.
            needed = min(per_chunk, held - k * per_chunk) * vector_bytes
            if chunk.stat().st_size < needed:
                raise StoreDamaged(f"face store {shard}: {where}/chunk_{k}.mmap is cut short ({chunk.stat().st_size} "
                                   f"bytes, {needed} needed for its vectors); {RESTORE}")


def _check_pages(shard: Path, segment: Path) -> None:
    """StoreDamaged when a page of the segment's payload storage or payload index (Gridstore: `page_N.dat`,
    each made at the size its config.json states) is cut short: the engine opened it all the same, and every
    read of a payload on it failed ("Gridstore IO error: elements range ... is out of bounds")."""
    for config in sorted([segment / "payload_storage" / "config.json",
                          *(segment / "payload_index").glob("*/config.json")]):
        try:
            page_bytes = int(json.loads(config.read_text(encoding="utf-8"))["page_size_bytes"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            continue  # not a Gridstore, or a config the engine checks itself
        for page in sorted(config.parent.glob("page_*.dat")):
            if page.stat().st_size < page_bytes:
                raise StoreDamaged(f"face store {shard}: {page.relative_to(shard)} is cut short "
                                   f"({page.stat().st_size} of {page_bytes} bytes); {RESTORE}")


# A mutable segment's id mappings (mutable_id_tracker.mappings): one change after another, a type byte then
# the point id (u64 or UUID) and, for an insert, the segment's internal id (u32, little-endian).
_MAPPING_SIZES = {1: 8 + 4, 2: 16 + 4, 3: 8, 4: 16}  # insert u64, insert UUID, delete u64, delete UUID
_SPARE_IDS = 1024  # internal ids past the vectors' count that a kill between two flushes may leave behind


def _check_id_mappings(shard: Path, segment: Path) -> None:
    """StoreDamaged when a segment's id mappings hold a change of no known type or an internal id far past any
    vector: the engine sizes its tables by the largest internal id, and a few flipped bytes made it ask for
    100 GB and abort the whole process (no error, no word of the file). A last change cut short is left to the
    engine (a write a kill interrupted)."""
    path = segment / "mutable_id_tracker.mappings"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return  # an immutable segment, or a layout without it: the engine checks its own
    except OSError as exc:
        raise StoreDamaged(f"face store {shard}: {path.relative_to(shard)} cannot be read ({exc.strerror}); "
                           f"{RESTORE}") from None
    inserts, largest, unknown = _scan_mappings(data)
    if unknown is not None:
        kind, at = unknown
        raise StoreDamaged(f"face store {shard}: {path.relative_to(shard)} is damaged (a change of unknown type "
                           f"{kind} at byte {at}); {RESTORE}")
    stored = max(_stored_vectors(segment), inserts)
    if largest >= stored + _SPARE_IDS:
        raise StoreDamaged(f"face store {shard}: {path.relative_to(shard)} is damaged (internal id {largest}, far "
                           f"past the {stored} points stored); {RESTORE}")


def _scan_mappings(data: bytes) -> tuple[int, int, tuple[int, int] | None]:
    """The id mappings `data` read change by change: (inserts, the largest internal id inserted (0: none), the
    first change of unknown type as (type, byte offset) or None); a last change cut short is not counted.
    Changes come in runs of one type (a video's faces inserted, a deleted video's removed): each run is measured
    at once (a strided slice of the bytes), and the internal ids of all inserts are read by numpy at the end, so
    a million faces take 0.02 s, not the 0.5 to 1 s of a loop in Python over each change."""
    inserts, at, end = 0, 0, len(data)
    spans: list[tuple[int, int, int]] = []  # runs of inserts: (byte of the first one's internal id, count, step)
    while at < end:
        kind = data[at]
        size = _MAPPING_SIZES.get(kind)
        if size is None:
            return inserts, _largest_id(data, spans), (kind, at)
        step = 1 + size
        whole = (end - at) // step  # complete changes from here on, whatever their types
        if whole == 0:
            break  # the last change cut short
        run = _run_length(data, at, step, whole) if whole > 1 and data[at + step] == kind else 1
        if size in (12, 20):  # inserts: the internal id is each change's last 4 bytes
            spans.append((at + step - 4, run, step))
            inserts += run
        at += run * step
    return inserts, _largest_id(data, spans), None


def _run_length(data: bytes, at: int, step: int, whole: int) -> int:
    """How many of the `whole` changes of `step` bytes from byte `at` on have the type of the first (their type
    bytes sliced out in windows growing fourfold: a run that ends soon costs little)."""
    kind, k, window = data[at:at + 1], 0, 16
    while k < whole:
        upto = min(whole, k + window)
        types = data[at + k * step:at + upto * step:step]
        same = len(types) - len(types.lstrip(kind))
        if same < len(types):
            return k + same
        k, window = upto, window * 4
    return whole


_LONG_SPAN = 256  # a run of inserts this long is read as a strided view of the bytes; shorter ones are gathered
_SPANS_AT_ONCE = 4096  # short runs gathered in one go (at most a million offsets: a few MB of index arrays)


def _largest_id(data: bytes, spans: list[tuple[int, int, int]]) -> int:
    """The largest u32 (little-endian) at the bytes the `spans` name, each (first offset, count, step); 0: none."""
    largest = 0
    for first, count, step in spans:
        if count >= _LONG_SPAN:
            view = np.ndarray((count,), dtype="<u4", buffer=data, offset=first, strides=(step,))
            largest = max(largest, int(view.max()))
    short = [span for span in spans if span[1] < _LONG_SPAN]
    if not short:
        return largest
    at_byte = np.ndarray((len(data) - 3,), dtype="<u4", buffer=data, strides=(1,))  # the u32 starting at each byte
    for k in range(0, len(short), _SPANS_AT_ONCE):
        first, count, step = np.array(short[k:k + _SPANS_AT_ONCE], dtype=np.int64).T
        within = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)  # 0.. in each run
        offsets = np.repeat(first, count) + within * np.repeat(step, count)
        largest = max(largest, int(at_byte[offsets].max()))
    return largest


def _stored_vectors(segment: Path) -> int:
    """The most vectors any of the segment's chunked vector storages counts (0 when none says)."""
    counts = [int.from_bytes(status.read_bytes(), "little")
              for status in (segment / "vector_storage").glob("*/status.dat") if status.stat().st_size == 8]
    return max(counts, default=0)


def _json(path: Path, what: str) -> None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreDamaged(f"face store {path.parent}: {what} is missing; {RESTORE}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not valid JSON"
        raise StoreDamaged(f"face store {path.parent}: {what} cannot be read ({reason}); {RESTORE}") from None
