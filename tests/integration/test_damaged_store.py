"""Every kind of damage to the face store's files is refused at start through the CLI with one line and exit
2: never a traceback, never a store that opens with part of its faces."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from services.common.damage import StoreDamaged
from services.identity.edge_store import EdgeFaceStore
from services.identity.facestore import FacePoint, FaceRecord, point_id
from tests.support.people import store_two_people

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "influencers.cli"]
PORTS = ["--ingest-port", "0", "--identity-port", "0", "--analytics-port", "0", "--web-port", "0",
         "--metrics-port", "0"]


def stored(data: Path) -> Path:
    """A data dir whose face store holds 40 faces of 4 people with names, closed cleanly."""
    edge = data / "qdrant" / "edge"
    store = EdgeFaceStore(edge)
    rng = np.random.default_rng(2)
    store.upsert([FacePoint(point_id(f"{v:016x}", 0, k), rng.normal(size=128).astype(np.float32),
                            FaceRecord(video_id=f"{v:016x}", person=0, influencer_id=f"inf_{v % 4:010x}"))
                  for v in range(10) for k in range(4)])
    store.set_name("inf_0000000000", "Ann")
    store.close()
    return edge


def segment_files(shard: Path, name: str) -> list[Path]:
    return sorted(shard.glob(f"segments/*/{name}"))


def break_segment_json(edge: Path) -> None:
    segment_files(edge / "faces", "segment.json")[0].write_text("{broken")


def break_wal(edge: Path) -> None:
    for path in (edge / "faces" / "wal").iterdir():
        if path.is_file():
            with path.open("r+b") as f:
                f.write(b"\xff" * 64)


def remove_segments(edge: Path) -> None:
    import shutil
    shutil.rmtree(edge / "faces" / "segments")


def remove_side(edge: Path) -> None:
    import shutil
    shutil.rmtree(edge / "side")


def older_faces(edge: Path) -> None:
    """faces/ put back from a copy taken when it held fewer faces (a partial restore): the side shard knows
    the store held more."""
    import shutil
    older = edge.parent / "older"
    store = EdgeFaceStore(older)
    store.upsert([FacePoint(point_id("0000000000000000", 0, k), np.ones(128, np.float32),
                            FaceRecord(video_id="0000000000000000", person=0, influencer_id="inf_0000000000"))
                  for k in range(4)])
    store.close()
    shutil.rmtree(edge / "faces")
    shutil.move(older / "faces", edge / "faces")
    shutil.rmtree(older)


def remove_vector_chunk(edge: Path) -> None:
    """The faces' vectors file deleted: the engine opened the store without it and served, and the first read
    of a vector (every match of a new video) failed with "vector offset out of bounds"."""
    segment_files(edge / "faces", "vector_storage/vectors/chunk_0.mmap")[0].unlink()


def flip_id_mappings(edge: Path) -> None:
    """Bytes flipped in the faces' id mappings: the engine asked for 100 GB and aborted the process (SIGABRT,
    a Rust backtrace, nothing naming the file)."""
    with segment_files(edge / "faces", "mutable_id_tracker.mappings")[0].open("r+b") as f:
        f.seek(100)
        damaged = bytes(b ^ 0xFF for b in f.read(200))
        f.seek(100)
        f.write(damaged)


def huge_internal_id(edge: Path) -> None:
    """The first mapping's internal id (bytes 17-20 after its type byte and UUID) made 4,294,967,291: the same
    abort, with every change's type intact."""
    with segment_files(edge / "faces", "mutable_id_tracker.mappings")[0].open("r+b") as f:
        f.seek(17)
        f.write(b"\xfb\xff\xff\xff")


def flip_side_payloads(edge: Path) -> None:
    """The side shard's first payload page flipped (its records are LZ4 blocks): the first read at start
    failed with a Python traceback ("Failed to decompress LZ4 value")."""
    with segment_files(edge / "side", "payload_storage/page_0.dat")[0].open("r+b") as f:
        damaged = bytes(b ^ 0xFF for b in f.read(4096))
        f.seek(0)
        f.write(damaged)


def cut_vector_chunk(edge: Path) -> None:
    """The faces' vectors file cut to 4 KiB (a copy that stopped): the engine opened it and served, and every
    read of a vector failed ("elements range ... is out of bounds"), so every new video's match failed."""
    os.truncate(segment_files(edge / "faces", "vector_storage/vectors/chunk_0.mmap")[0], 4096)


def cut_payload_page(edge: Path) -> None:
    """The faces' payload page emptied: every read of a face's payload failed ("Gridstore IO error")."""
    os.truncate(segment_files(edge / "faces", "payload_storage/page_0.dat")[0], 0)


DAMAGE = {
    "broken segment.json": (break_segment_json, "segment.json cannot be read"),
    "broken WAL": (break_wal, "cannot be opened"),
    "segments/ removed": (remove_segments, "segments/ is missing"),
    "side/ removed": (remove_side, "side/ is missing"),
    "faces/ older than side/": (older_faces, "only 4 of at least 40 faces can be read"),
    "the vectors' chunk file removed": (remove_vector_chunk, "vector_storage/vectors/chunk_0.mmap is missing (40 "
                                                             "vectors stored)"),
    "the vectors' chunk file cut short": (cut_vector_chunk, "vector_storage/vectors/chunk_0.mmap is cut short "
                                                            "(4096 bytes, 20480 needed for its vectors)"),
    "the payload page emptied": (cut_payload_page, "payload_storage/page_0.dat is cut short (0 of 33554432 bytes)"),
    "the id mappings' bytes flipped": (flip_id_mappings, "mutable_id_tracker.mappings is damaged (a change of "
                                                         "unknown type"),
    "an internal id far past the store": (huge_internal_id, "mutable_id_tracker.mappings is damaged (internal id "
                                                            "4294967291, far past the 40 points stored)"),
    "the side shard's payloads flipped": (flip_side_payloads, "/side cannot be read (Service runtime error: Failed "
                                                              "to decode value"),
}


def serve(data: Path, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "serve", "--data-dir", str(data), *PORTS], capture_output=True, text=True,
                          timeout=timeout_s, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_face_store_is_refused_at_start_in_one_line_with_exit_2(tmp_path, kind):
    damage, said = DAMAGE[kind]
    damage(stored(tmp_path / "data"))
    got = serve(tmp_path / "data")
    errors = [line for line in got.stderr.splitlines() if "error" in line.lower()]
    assert got.returncode == 2, got.stderr[-3000:]
    assert "Traceback" not in got.stderr and len(errors) == 1 and said in errors[0], got.stderr[-3000:]
    print(kind, "->", errors[0])


@pytest.mark.parametrize(("flipped", "size", "said"), [
    ("payload_storage/page_0.dat", 4096, "Service runtime error: Failed to decode value"),
    # The payloads' offsets: the engine panicked (pyo3's PanicException, a BaseException that passed every
    # `except Exception` and ended the call's thread).
    ("payload_storage/tracker.dat", 2048, "assertion failed: byte_offset < page_size_bytes"),
])
def test_a_faces_payload_page_that_no_longer_decodes_fails_each_read_naming_the_shard_and_what_to_do(
        tmp_path, flipped, size, said):
    # Flipped bytes inside the faces' payloads pass every check at start (finding them means reading every
    # page); each match of a new video then failed as "internal error in AnalyzeVideo", naming nothing.
    edge = stored(tmp_path / "data")
    EdgeFaceStore(edge).close()  # opened once more: the tracker's journal is applied to tracker.dat
    with segment_files(edge / "faces", flipped)[0].open("r+b") as f:
        damaged = bytes(b ^ 0xFF for b in f.read(size))
        f.seek(0)
        f.write(damaged)
    store = EdgeFaceStore(edge)
    try:
        for read in (lambda: store.search(np.ones((1, 128), np.float32), 40),  # every face: one at least is hit
                     lambda: store.faces_page(None, None, True)):
            with pytest.raises(StoreDamaged) as refused:
                read()
            assert str(refused.value).startswith(f"face store {edge / 'faces'} cannot be read ({said}")
            assert str(refused.value).endswith("; restore DATA/qdrant/edge from a backup, or remove it and ingest "
                                               "again")
    finally:
        store.close()


def test_a_read_only_face_store_is_refused_at_start_in_one_line_with_exit_2(tmp_path):
    edge = stored(tmp_path / "data")
    qdrant = edge.parent
    if subprocess.run(["mount", "--bind", str(qdrant), str(qdrant)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here (a read-only folder needs it: root ignores file modes)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(qdrant)], check=True, capture_output=True)
        got = serve(tmp_path / "data")
    finally:
        subprocess.run(["umount", str(qdrant)], check=True)
    assert got.returncode == 2 and "Traceback" not in got.stderr, got.stderr[-3000:]
    assert "read-only" in got.stderr.splitlines()[-1], got.stderr[-3000:]
    print("read-only qdrant/ ->", got.stderr.splitlines()[-1])


def test_a_face_store_that_lost_the_people_analytics_lists_is_refused_at_start(settings):
    import shutil
    store_two_people(settings)
    shutil.rmtree(settings.data_dir / "qdrant" / "edge")
    got = serve(settings.data_dir)
    assert got.returncode == 2 and "Traceback" not in got.stderr, got.stderr[-3000:]
    assert "holds no face of 2 of the 2 influencers" in got.stderr.splitlines()[-1], got.stderr[-3000:]


def test_analytics_missing_people_identity_holds_is_rebuilt_from_identity_at_start(settings):
    import sqlite3
    import time

    from influencers.stack import start_stack
    people = store_two_people(settings)
    with sqlite3.connect(settings.data_dir / "analytics.sqlite3") as db:
        db.execute("delete from appearances")
    stack = start_stack(settings, web=False)
    try:
        deadline = time.monotonic() + 30
        while set(stack.store.appearance_frame().influencer_id) != people and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(stack.store.appearance_frame().influencer_id) == people
    finally:
        stack.stop()


def test_a_first_start_killed_while_the_face_store_is_made_leaves_no_store_that_the_next_start_calls_damaged(
        tmp_path):
    # Found by a first `run` on a full disk (SIGBUS) and by Ctrl-C in its first second: the shards were made in
    # place, faces/ (0.4 s) then side/, and a kill between them left a store every later start refused as
    # damaged ("side/ is missing ...; restore DATA/qdrant/edge from a backup"), of a store that never held a face.
    qdrant = tmp_path / "data" / "qdrant"
    child = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; "
                              "from services.identity.edge_store import EdgeFaceStore; "
                              "EdgeFaceStore(Path(sys.argv[1]))", str(qdrant / "edge")],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        while child.poll() is None and not list(qdrant.glob("*/faces/edge_config.json")):
            time.sleep(0.002)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -9, "the store was made before the kill: nothing was tested"
    assert not (qdrant / "edge" / "side").exists()
    store = EdgeFaceStore(qdrant / "edge")
    try:
        store.upsert([FacePoint(point_id("00000000000000a1", 0, 0), np.ones(128, np.float32),
                                FaceRecord(video_id="00000000000000a1", person=0, influencer_id="inf_0000000001"))])
        assert store.count() == 1
    finally:
        store.close()
    assert sorted(p.name for p in qdrant.iterdir()) == ["edge"]
