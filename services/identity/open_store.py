"""Opens the face store the settings name: Qdrant Edge in DATA/qdrant/edge/ by default, a Qdrant server when
QDRANT_URL is set. A data dir from before Edge (qdrant-client's local mode in DATA/qdrant/) is migrated on
first open: its faces, names and batch markers are copied into Edge, and the old files are kept aside in
DATA/qdrant/local-mode-backup/ (until the first erasure, which removes them: they hold every person).

The migration is resumable: the old files move aside only as its last step (meta.json last of all), so a
data dir that still has DATA/qdrant/meta.json has not been migrated completely, whether or not edge/ exists.
A start killed part way leaves meta.json in place, and the next start copies again (every copy is an upsert
by point id: nothing is doubled), with a warning."""

from __future__ import annotations

import base64
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from services.common.crash import crash_point
from services.common.settings import Settings, SettingsError, shown_http_url
from services.identity.crops import CROP_REF
from services.identity.facestore import FacePoint, FaceRecord, FaceStore, vector_hash

log = logging.getLogger(__name__)


def open_face_store(settings: Settings) -> FaceStore:
    if settings.qdrant_url:
        # Here, not at the top: qdrant-client costs ~40 MB of memory, which an Edge store never needs
        from qdrant_client import QdrantClient
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        from services.identity.server_store import CollectionLayout, ServerFaceStore

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key or None, timeout=30)
        layout = CollectionLayout(settings.qdrant_shards, settings.qdrant_replication, settings.qdrant_quantize)
        try:
            return ServerFaceStore(client, settings.qdrant_collection, layout)
        except (ResponseHandlingException, UnexpectedResponse) as exc:  # after the store's own retries
            client.close()
            raise SettingsError(_unreachable_server(settings.qdrant_url, exc)) from None

    from services.identity.edge_store import EdgeFaceStore

    folder = settings.data_dir / "qdrant"
    resumed = (folder / "edge").exists()
    store = EdgeFaceStore(folder / "edge", settings.min_free_bytes)
    if (folder / "meta.json").is_file():
        if resumed:
            log.warning("the migration of %s from qdrant-client's local mode to Qdrant Edge was interrupted; "
                        "copying again from the old store", folder)
        try:
            migrate_local_mode(folder, settings.qdrant_collection, store,
                               lambda: migrate_crop_files(settings.data_dir / "identity" / "crops", store))
        except BaseException:
            store.close()
            raise
    return store


def _unreachable_server(url: str, exc: Exception) -> str:
    """One line for a Qdrant server that did not answer at start, or refused the API key."""
    where = f"QDRANT_URL {shown_http_url(url)}"
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return f"{where} refused the API key ({status}): check QDRANT_API_KEY"
    if status is not None and status >= 500:  # a server starting, overloaded or failing: try again later
        return f"{where} answered {status}, a server error (starting up or failing?): try again once it is ready"
    if status is not None:
        return f"{where} answered {status}, not as a Qdrant server"
    return f"{where}: no Qdrant server answers there ({' '.join(str(exc).split())[:200]})"


def migrate_crop_files(folder: Path, into: FaceStore) -> int:
    """Moves the face crops of a data dir from before Edge (files) into the store's side collection."""
    count = 0
    for path in sorted(folder.glob("*.jpg")) if folder.is_dir() else []:
        if CROP_REF.fullmatch(path.name):
            into.set_side("crop", path.name, {"jpeg": base64.b64encode(path.read_bytes()).decode("ascii")})
            count += 1
    return count


def migrate_local_mode(folder: Path, collection: str, into: FaceStore,
                       also: Callable[[], object] = lambda: None) -> int:
    """Copies a local-mode store (schema 1: faces as dict payloads, `<collection>_names` for names and batch
    markers) into `into`, runs `also` (the crop files' copy), then moves the old files to local-mode-backup/,
    meta.json last (its presence means "not migrated completely"). Returns the faces copied."""
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(folder))
    copied = 0
    seen: set[str] = set()
    try:
        if client.collection_exists(collection):
            offset = None
            while True:
                points, offset = client.scroll(collection, limit=1024, offset=offset, with_payload=True,
                                               with_vectors=True)
                batch = []
                for p in sorted(points, key=lambda p: str(p.id)):
                    vector = np.asarray(p.vector, np.float32)
                    record = FaceRecord.from_payload(dict(p.payload or {}))
                    record.vhash = vector_hash(vector)
                    record.copy = int(record.vhash in seen)
                    seen.add(record.vhash)
                    batch.append(FacePoint(str(p.id), vector, record))
                into.upsert(batch)
                copied += len(batch)
                crash_point("migrate:faces")
                if offset is None:
                    break
        names = f"{collection}_names"
        if client.collection_exists(names):
            points, _ = client.scroll(names, limit=100_000, with_payload=True)
            for p in points:
                payload = dict(p.payload or {})
                if "influencer_id" in payload and payload.get("name"):
                    into.set_name(str(payload["influencer_id"]), str(payload["name"]))
                elif str(payload.get("meta", "")).startswith("batch:"):
                    worker = str(payload["meta"]).removeprefix("batch:")
                    into.set_side("batch", worker, {"batch": str(payload.get("batch", "")), "worker": worker})
    finally:
        client.close()
    also()
    into.optimize()
    crash_point("migrate:copied")
    backup = folder / "local-mode-backup"
    backup.mkdir(exist_ok=True)
    for name in ("collection", ".lock", "meta.json"):
        if (folder / name).exists():
            if (backup / name).exists():  # a move a kill interrupted: the newer copy is the one in place
                shutil.rmtree(backup / name) if (backup / name).is_dir() else (backup / name).unlink()
            shutil.move(str(folder / name), str(backup / name))
        crash_point(f"migrate:moved:{name}")
    log.warning("migrated %d faces from qdrant-client's local mode to Qdrant Edge; old files in %s", copied, backup)
    return copied
