"""Face crops, one JPEG per person of a video, named by a reference checked against a strict pattern."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

from services.identity.facestore import FaceStore

# Video ids reach identity over gRPC: they are checked against this before they name a crop or a stored face.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CROP_REF = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,63})-(\d{1,6})\.jpg")


def check_id(value: str, what: str = "video_id") -> str:
    """`value` when it is a safe id (letters, digits, _ and -, at most 64), else ValueError naming it."""
    if not SAFE_ID.fullmatch(value or ""):
        raise ValueError(f"{what} {value[:80]!r} is not a valid id (letters, digits, _ or -, at most 64)")
    return value


class CropStore:
    """Crops live in the face store's side collection, beside the faces they belong to: every identity
    replica reads the same ones, and a backup of the store is a backup of the crops."""

    def __init__(self, store: FaceStore) -> None:
        self.store = store

    @staticmethod
    def ref(video_id: str, person: int) -> str:
        return f"{check_id(video_id)}-{int(person)}.jpg"

    def save(self, video_id: str, person: int, jpeg: bytes) -> str:
        """Keeps the crop and returns its reference."""
        ref = self.ref(video_id, person)
        if jpeg:
            self.store.set_side("crop", ref, {"jpeg": base64.b64encode(jpeg).decode("ascii")})
        return ref

    def read(self, ref: str) -> bytes | None:
        """The crop's bytes; None for an unknown reference; ValueError for one that is not a reference."""
        if not CROP_REF.fullmatch(ref or ""):
            raise ValueError(f"face_ref {ref[:80]!r} is not a face reference")
        record = self.store.get_side("crop", ref)
        return base64.b64decode(record["jpeg"]) if record and record.get("jpeg") else None

    def delete(self, refs: Iterable[str]) -> None:
        for ref in sorted(set(refs)):
            if CROP_REF.fullmatch(ref):
                self.store.set_side("crop", ref, None)
