"""A face store prefilled with synthetic faces, for the incremental-cost check: does one more video cost
the same when the store already holds N faces?

Synthetic people are random centres around the mean of real encodings; their faces scatter around the
centres. The spreads are set from the corpus's measured distances (corpus README): faces of one person
0.45 apart on average, of different people 0.86. For isotropic noise of sd s per component, two points
are on average sqrt(2 * 128) * s apart, hence the sds below.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import psutil
from throughput_memory import GIB
from throughput_ours import PipelineFigures, run_pipeline

from influencers.settings import Settings
from services.identity.matching import new_influencer_id
from services.identity.vectors import VECTOR_SIZE, FaceIndex, FacePoint, open_client, point_id

SAME_PERSON_DISTANCE = 0.45
OTHER_PERSON_DISTANCE = 0.86
WITHIN_SD = SAME_PERSON_DISTANCE / math.sqrt(2 * VECTOR_SIZE)
BETWEEN_SD = math.sqrt(OTHER_PERSON_DISTANCE**2 / (2 * VECTOR_SIZE) - WITHIN_SD**2)
FACES_PER_PERSON = (3, 10)  # encodings kept per person of a video: a few per track, a track or more
UPSERT_CHUNK = 4096
MEMORY_SHARE = 0.5  # of the available memory Recluster may be expected to take before the run is refused


@dataclass
class PrefillFigures:
    faces: int
    people: int
    videos: int
    seconds: float


def people_count(faces: int) -> int:
    """A few thousand synthetic people at most; each seen in several videos."""
    return max(1, min(3000, faces // 30))


def _payload(video_id: str, person: int, k: int, influencer_id: str, other: int | None,
             rng: np.random.Generator, faces: int) -> dict[str, object]:
    """The keys and kinds of services.identity.registry._payload, with plausible values."""
    first = float(rng.uniform(0, 5))
    last = first + float(rng.uniform(2, 10))
    side = int(rng.integers(80, 400))
    top, left = int(rng.integers(0, 600)), int(rng.integers(0, 300))
    return {
        "video_id": video_id, "person": person, "influencer_id": influencer_id,
        "timestamp_s": first + k, "box": [top, left + side, top + side, left],
        "quality": float(rng.uniform(0.4, 0.95)), "first_seen_s": first, "last_seen_s": last,
        "faces": faces * 2, "screen_time_s": last - first, "best_quality": 0.95, "crop": f"{video_id}-{person}.jpg",
        "cooccurs": [] if other is None else [other], "ambiguous": False,
    }


def synthetic_faces(n: int, mean: np.ndarray, seed: int = 0) -> Iterator[FacePoint]:
    """`n` faces in videos of one or two people (two: seen together, as in a split screen)."""
    rng = np.random.default_rng(seed)
    people = people_count(n)
    centres = mean + rng.normal(0.0, BETWEEN_SD, (people, VECTOR_SIZE))
    ids = [new_influencer_id(f"synthetic{c}", 0) for c in range(people)]
    made = 0
    while made < n:
        video_id = f"{int(rng.integers(2**62)):016x}"
        who = rng.choice(people, size=min(people, 1 if rng.random() < 0.7 else 2), replace=False)
        for person, centre in enumerate(who):
            other = (1 - person) if len(who) == 2 else None
            count = int(rng.integers(*FACES_PER_PERSON))
            vectors = centres[centre] + rng.normal(0.0, WITHIN_SD, (count, VECTOR_SIZE))
            for k, vec in enumerate(vectors[: n - made]):
                payload = _payload(video_id, person, k, ids[centre], other, rng, count)
                yield FacePoint(point_id(video_id, person, k), vec, payload)
                made += 1


def prefill_store(settings: Settings, faces: int, mean: np.ndarray) -> PrefillFigures:
    """Writes `faces` synthetic faces into the Qdrant store (local mode) of `settings` before the stack
    opens it, through the same FaceIndex.upsert the identity service uses."""
    t0 = time.perf_counter()
    index = FaceIndex(open_client("", "", settings.data_dir / "qdrant"), settings.qdrant_collection, local=True)
    videos: set[str] = set()
    try:
        index.ensure()
        chunk: list[FacePoint] = []
        for point in synthetic_faces(faces, mean):
            chunk.append(point)
            videos.add(str(point.payload["video_id"]))
            if len(chunk) == UPSERT_CHUNK:
                index.upsert(chunk)
                chunk = []
        index.upsert(chunk)
    finally:
        index.close()
    return PrefillFigures(faces, people_count(faces), len(videos), time.perf_counter() - t0)


def recluster_bytes(faces: int) -> int:
    """Memory Recluster needs at `faces` stored faces: person_distances builds the faces x faces float64
    distance matrix, and a few such temporaries are alive at once."""
    return 3 * 8 * faces * faces


@dataclass
class Incremental:
    store_size: int
    empty: PipelineFigures
    filled: PipelineFigures | None = None
    prefill: PrefillFigures | None = None
    skipped: str = ""  # why the prefilled run did not happen

    def ratio(self, attr: str) -> float | None:
        """filled / empty of a PipelineFigures attribute; None without a filled run."""
        if self.filled is None or not getattr(self.empty, attr):
            return None
        return float(getattr(self.filled, attr) / getattr(self.empty, attr))

    def as_json(self) -> dict[str, object]:
        return {
            "store_size": self.store_size, "skipped": self.skipped,
            "prefill": asdict(self.prefill) if self.prefill else None,
            "empty": self.empty.as_json(), "filled": self.filled.as_json() if self.filled else None,
            "ratios": {a: self.ratio(a) for a in ("ingest_s_per_video", "identity_s_per_video", "reconcile_s",
                                                   "startup_s")},
        }


def memory_refusal(store_size: int, real_faces: int) -> str:
    """Why a store of this size must not be run on this machine now, or "" when it may."""
    need = recluster_bytes(store_size + real_faces)
    available = psutil.virtual_memory().available
    if need <= MEMORY_SHARE * available:
        return ""
    return (f"Recluster would build a {store_size + real_faces}^2 float64 face-distance matrix, about "
            f"{need / GIB:.1f} GiB, with {available / GIB:.1f} GiB available (--force-store runs it anyway)")


def run_incremental(manifest: Path, store_size: int, force: bool) -> Incremental:
    """Ingests `manifest` into an empty store, then into a fresh store prefilled with `store_size`
    synthetic faces (centred on the mean of the real faces the first run stored)."""
    empty = run_pipeline(manifest, "empty store")
    inc = Incremental(store_size, empty)
    inc.skipped = "" if force else memory_refusal(store_size, empty.faces_stored)
    if inc.skipped:
        return inc
    mean = np.asarray(empty.mean_encoding) if empty.mean_encoding else np.zeros(VECTOR_SIZE)

    def prefill(settings: Settings) -> None:
        inc.prefill = prefill_store(settings, store_size, mean)

    inc.filled = run_pipeline(manifest, f"store of {store_size} faces", prefill)
    return inc
