"""The first start on a data dir of the release before Edge, SIGKILLed part way through its migration, is
resumed from the old store at the next start (with a warning): no face and no name is lost."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from services.common.settings import Settings
from services.identity.facestore import point_id
from services.identity.open_store import open_face_store

ROOT = Path(__file__).resolve().parents[2]
FACES = 1100  # two pages of the migration's copy (1,024 a page)
OPEN = "import sys; from pathlib import Path; from services.common.settings import Settings; " \
       "from services.identity.open_store import open_face_store; " \
       "open_face_store(Settings(data_dir=Path(sys.argv[1]))).close()"


def old_layout(data: Path) -> None:
    client = QdrantClient(path=str(data / "qdrant"))
    client.create_collection("faces", vectors_config=models.VectorParams(size=128, distance=models.Distance.EUCLID),
                             metadata={"schema_version": 1})
    client.create_collection("faces_names", vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT))
    vectors = np.random.default_rng(1).normal(scale=0.1, size=(FACES, 128))
    client.upsert("faces", [models.PointStruct(id=point_id(f"v{k}", 0, 0), vector=vec.tolist(), payload={
        "video_id": f"v{k}", "person": 0, "influencer_id": f"inf_{k % 50:010x}", "crop": f"v{k}-0.jpg"})
        for k, vec in enumerate(vectors)])
    client.upsert("faces_names", [models.PointStruct(id=point_id("n", k, 0), vector=[1.0], payload={
        "influencer_id": f"inf_{k:010x}", "name": f"Name {k}"}) for k in range(50)])
    client.close()
    crops = data / "identity" / "crops"
    crops.mkdir(parents=True)
    for k in range(3):
        (crops / f"v{k}-0.jpg").write_bytes(b"\xff\xd8jpeg")


@pytest.mark.parametrize("crash_at", ["migrate:faces", "migrate:moved:collection"])
def test_a_migration_killed_part_way_is_resumed_from_the_old_store_at_the_next_start(tmp_path, crash_at, caplog):
    data = tmp_path / "data"
    old_layout(data)
    killed = subprocess.run([sys.executable, "-c", OPEN, str(data)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "INFLUENCERS_CRASH_AT": crash_at, "PYTHONPATH": str(ROOT)})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (data / "qdrant" / "edge").is_dir() and (data / "qdrant" / "meta.json").is_file()
    store = open_face_store(Settings(data_dir=data))
    try:
        assert store.count() == FACES and len(store.names()) == 50
        assert store.get_side("crop", "v2-0.jpg") is not None
        assert "interrupted" in caplog.text
    finally:
        store.close()
    backup = data / "qdrant" / "local-mode-backup"
    assert (backup / "meta.json").is_file() and (backup / "collection").is_dir()
    assert not (data / "qdrant" / "meta.json").exists()
