"""Why INFLUENCERS_MIN_FREE_BYTES has a floor (settings.MIN_FREE_BYTES_FLOOR, 32 MiB) and why opening the face store
wants more: Qdrant Edge writes through memory-mapped sparse files, and a write into a full disk with no margin kept
(0, the check off) kills the process with SIGBUS inside the engine's update, which no handler can turn into an
error; opening a store fills in its vector chunks' holes (~60 MiB for one filled to its margin), a SIGBUS in the
engine's open on a full disk. At the floor, filling ends in DiskFull with the process alive, the reopen is refused
as a full disk until there is room for those holes, and then every face stored before is read back."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from services.common.settings import MIN_FREE_BYTES_FLOOR

ROOT = Path(__file__).resolve().parents[2]
# On the disk argv[1]: a filler file of argv[3] MiB, then a face store keeping argv[2] bytes free, filled 256 faces
# (one update's chunk) at a time with crops of about identity's size until DiskFull ("full" and its message); closed
# ("stored N"), reopened ("read N"), or refused ("reopen" and its message), then reopened once the filler is gone.
FILL = """
import sys, uuid
import numpy as np
from pathlib import Path
from services.common.damage import DiskFull
from services.identity.edge_store import EdgeFaceStore
from services.identity.facestore import FacePoint, FaceRecord

disk, margin = Path(sys.argv[1]), int(sys.argv[2])
folder, filler = disk / "edge", disk / "filler"
filler.write_bytes(bytes(int(sys.argv[3]) << 20))
store = EdgeFaceStore(folder, margin)
rng = np.random.default_rng(0)
stored = 0
try:
    for batch in range(10_000):
        store.upsert([FacePoint(str(uuid.uuid4()), rng.random(128).astype(np.float32),
                                FaceRecord(video_id=f"{batch:016x}", person=k, influencer_id="inf_00000000a1",
                                           crop="x" * 6000)) for k in range(256)])
        stored += 256
except DiskFull as exc:
    print("full", exc, flush=True)
store.close()
print("stored", stored, flush=True)
try:
    print("read", EdgeFaceStore(folder, margin).count(), flush=True)
except DiskFull as exc:
    print("reopen", exc, flush=True)
    filler.unlink()
    print("read", EdgeFaceStore(folder, margin).count(), flush=True)
"""


def fill(disk: Path, margin: int, filler_mib: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FILL, str(disk), str(margin), str(filler_mib)],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=300)


def test_a_face_store_filling_a_disk_with_no_margin_kept_is_killed_by_sigbus_in_the_engine(tmpfs):
    # The engine's behaviour the floor answers; should Edge stop mapping its files, this fails and the floor may go.
    result = fill(tmpfs("64m"), 0, 0)
    assert result.returncode == -signal.SIGBUS, (result.returncode, result.stdout[-300:], result.stderr[-2000:])
    assert "full" not in result.stdout


def test_a_store_filled_at_the_least_margin_allowed_stops_at_disk_full_and_reopens_only_with_room_keeping_every_face(
        tmpfs):
    result = fill(tmpfs("160m"), MIN_FREE_BYTES_FLOOR, 70)
    assert result.returncode == 0, (result.returncode, result.stdout[-1000:], result.stderr[-2000:])
    said = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert said["full"].startswith("disk full: the disk of ") and "storing faces refused" in said["full"], said
    assert "opening the face store (which fills in " in said["reopen"], said  # was: SIGBUS in the engine's open
    assert "MiB of its files as it opens, on top of the space kept free) refused; free some space" in said["reopen"]
    assert int(said["read"]) >= int(said["stored"]) > 0, "a face stored before the disk filled was lost"
