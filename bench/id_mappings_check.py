"""How long identity's start-up check of a face store's id mappings takes (services/identity/edge_check.py,
`_check_id_mappings`: run on every segment at each start, before the engine opens the store).

    .venv/bin/python bench/id_mappings_check.py [--faces 1000000] [--deletes 0.01] [--repeat 3]

Writes a synthetic segment in a temporary folder: `mutable_id_tracker.mappings` in the engine's format (per
face an insert of a UUID point id with its internal id; a share `--deletes` of them deleted again, by UUID,
spread through the file, as deleted videos leave them) and a vector storage counting the faces; then times the
check (best of `--repeat`). A few seconds; writes nothing but the temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.identity.edge_check import _check_id_mappings  # noqa: E402


def write_segment(segment: Path, faces: int, deletes: float, seed: int = 0) -> int:
    """A segment folder holding `faces` inserts (type 2: UUID, internal id) and deletes (type 4: UUID) after
    every 1/`deletes` inserts; returns the mapping file's size in bytes."""
    rng = np.random.default_rng(seed)
    inserts = np.zeros(faces, dtype=[("type", "u1"), ("point", "V16"), ("internal", "<u4")])
    inserts["type"] = 2
    inserts["point"] = np.frombuffer(rng.bytes(16 * faces), "V16")
    inserts["internal"] = np.arange(faces, dtype="<u4")
    every = int(1 / deletes) if deletes > 0 else 0
    parts: list[bytes] = []
    for start in range(0, faces, every or faces):
        parts.append(inserts[start:start + (every or faces)].tobytes())
        if every:
            parts.append(b"\x04" + inserts["point"][start].tobytes())  # a delete of a point just inserted
    data = b"".join(parts)
    segment.mkdir(parents=True)
    (segment / "mutable_id_tracker.mappings").write_bytes(data)
    storage = segment / "vector_storage" / "face"
    storage.mkdir(parents=True)
    (storage / "status.dat").write_bytes(faces.to_bytes(8, "little"))
    return len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=1_000_000)
    parser.add_argument("--deletes", type=float, default=0.01, help="share of faces deleted again (0..1)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "faces"
        segment = shard / "segments" / "s1"
        size = write_segment(segment, args.faces, args.deletes)
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            _check_id_mappings(shard, segment)
            best = min(best, time.perf_counter() - t0)
    print(f"{args.faces} faces ({size / 1e6:.1f} MB of id mappings): the check took {best:.3f} s "
          f"(best of {args.repeat})")


if __name__ == "__main__":
    main()
