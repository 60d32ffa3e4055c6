"""The record of each erasure in the face store's side collection, written before the erasure is applied, so
that one a kill interrupted is finished at the next start or by repeating the command; and the removal of the
copies of a person that live outside the store (a migration's backup, the crop files of the old layout).

A record is keyed by the keyed hash of the id (services/common/erasure.py). While the erasure runs it also
holds the id ("pending": the id is needed to finish it); once the feed carries the erasure, the id goes and
only the hash and the UTC time stay, which tell a repeated delete "already erased" (so that it answers OK
and publishes the erasure again, for a follower that missed it) without keeping the id.

Test hook: INFLUENCERS_CRASH_AT=<point> SIGKILLs this process at that point of an erasure (CRASH_POINTS;
services/common/crash.py)."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

from services.identity.facestore import FaceStore

log = logging.getLogger(__name__)

KIND = "erased"  # side records of erasures
# Where a test may kill an erasure: recorded, faces deleted, published in the feed, record finished.
CRASH_POINTS = ("erase:recorded", "erase:deleted", "erase:published", "erase:finished")


def state(store: FaceStore, key: str) -> str:
    """"" (never erased), "pending" (recorded, not finished) or "done"."""
    record = store.get_side(KIND, key)
    if record is None:
        return ""
    return "pending" if record.get("influencer_id") else "done"


def begin(store: FaceStore, key: str, influencer_id: str, face_keys: list[str], merged_in: list[str]) -> list[str]:
    """Records that `influencer_id` is being erased (before anything of it is deleted), with the keyed hashes
    of its faces' encodings (`face_keys`: a repost of its video is recognised by them, see reposted) and the
    older ids merged into it (`merged_in`, corrections.absorbed). Returns those ids with the ones an interrupted
    try recorded: the deletion drops the merge records they were found by, so that a resumed erasure finds
    them here alone (it found none, and left the older id and its name in the feed and analytics' trail)."""
    record = store.get_side(KIND, key) or {}
    merged = sorted(set(record.get("merged_in", [])) | set(merged_in))
    store.set_side(KIND, key, {"erased_key": key, "influencer_id": influencer_id,
                               "faces": sorted(set(record.get("faces", [])) | set(face_keys)),
                               "merged_in": merged, "time_utc": record.get("time_utc") or _now()})
    return merged


def finish(store: FaceStore, key: str) -> None:
    """The erasure is applied and published: the record keeps only the hash and the time (no id, nor the older
    ids merged in)."""
    record = store.get_side(KIND, key) or {}
    store.set_side(KIND, key, {"erased_key": key, "faces": record.get("faces", []),
                               "time_utc": record.get("time_utc") or _now()})


def pending(store: FaceStore) -> list[tuple[str, str]]:
    """(influencer id, key) of every erasure recorded and not finished (a kill interrupted it)."""
    return [(str(r["influencer_id"]), str(r["erased_key"])) for r in store.side_records(KIND)
            if r.get("influencer_id") and r.get("erased_key")]


def reposted(store: FaceStore, face_keys: set[str]) -> str:
    """The UTC time of the earliest erasure one of whose faces' keyed hashes is in `face_keys` (a face of
    an erased person seen again: the same encoding), or ""."""
    times = [str(r.get("time_utc", "")) for r in store.side_records(KIND) if face_keys & set(r.get("faces", []))]
    return min(times) if times else ""


def remove_leftovers(data_dir: Path) -> list[Path]:
    """Removes the copies of every face that the migration from the old layout left behind: the local-mode
    files in DATA/qdrant/local-mode-backup/ and the crop files of DATA/identity/crops/ (both were copied into
    the Edge store; after an erasure they are the last copies of the person). Returns what went."""
    gone = []
    for path in (data_dir / "qdrant" / "local-mode-backup", data_dir / "identity" / "crops"):
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            gone.append(path)
            log.warning("erasure: removed %s (a copy of the store from before Qdrant Edge, holding the person)",
                        path)
    return gone


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
