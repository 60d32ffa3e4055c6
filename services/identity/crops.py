"""Face crops on disk, one JPEG per person of a video, named by a reference that never leaves the folder."""

from __future__ import annotations

import re
from pathlib import Path

# Video ids reach identity over gRPC: they are checked against this before any file use.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CROP_REF = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,63})-(\d{1,6})\.jpg")


def check_id(value: str, what: str = "video_id") -> str:
    """`value` when it is a safe id (letters, digits, _ and -, at most 64), else ValueError naming it."""
    if not SAFE_ID.fullmatch(value or ""):
        raise ValueError(f"{what} {value[:80]!r} is not a valid id (letters, digits, _ or -, at most 64)")
    return value


class CropStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def ref(video_id: str, person: int) -> str:
        return f"{check_id(video_id)}-{int(person)}.jpg"

    def save(self, video_id: str, person: int, jpeg: bytes) -> str:
        """Writes the crop (atomically) and returns its reference."""
        ref = self.ref(video_id, person)
        if jpeg:
            tmp = self.folder / (ref + ".tmp")
            tmp.write_bytes(jpeg)
            tmp.replace(self.folder / ref)
        return ref

    def read(self, ref: str) -> bytes | None:
        """The crop's bytes; None for an unknown reference; ValueError for one that is not a reference."""
        if not CROP_REF.fullmatch(ref or ""):
            raise ValueError(f"face_ref {ref[:80]!r} is not a face reference")
        path = self.folder / ref
        return path.read_bytes() if path.is_file() else None

    def delete_video(self, video_id: str) -> None:
        for path in self.folder.glob(f"{check_id(video_id)}-*.jpg"):
            match = CROP_REF.fullmatch(path.name)
            if match and match.group(1) == video_id:
                path.unlink(missing_ok=True)
