"""The incremental-cost check: does one more video cost the same when the stores already hold N faces?

The stores are prefilled with synthetic faces. Synthetic people are random centres around the mean of
real encodings; their faces scatter around the centres. The spreads are set from the corpus's measured
distances (corpus README): faces of one person 0.45 apart on average, of different people 0.86. For
isotropic noise of sd s per component, two points are on average sqrt(2 * 128) * s apart, hence the sds
below.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from throughput_ours import PipelineFigures, run_pipeline

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.common.settings import Settings
from services.identity.facestore import VECTOR_SIZE, FacePoint, FaceRecord, point_id, vector_hash
from services.identity.matching import new_influencer_id
from services.identity.open_store import open_face_store

SAME_PERSON_DISTANCE = 0.45
OTHER_PERSON_DISTANCE = 0.86
WITHIN_SD = SAME_PERSON_DISTANCE / math.sqrt(2 * VECTOR_SIZE)
BETWEEN_SD = math.sqrt(OTHER_PERSON_DISTANCE**2 / (2 * VECTOR_SIZE) - WITHIN_SD**2)
FACES_PER_PERSON = (3, 10)  # encodings kept per person of a video: a few per track, a track or more
CHUNK_VIDEOS = 500


@dataclass
class PrefillFigures:
    faces: int
    people: int
    videos: int
    seconds: float


@dataclass
class SyntheticVideo:
    row: VideoRow
    appearances: list[AppearanceRow]
    faces: list[FacePoint]


def people_count(faces: int) -> int:
    """A few thousand synthetic people at most; each seen in several videos."""
    return max(1, min(3000, faces // 30))


def _person_payload(video_id: str, person: int, influencer_id: str, other: int | None, count: int,
                    rng: np.random.Generator) -> dict[str, object]:
    """The fields of a FaceRecord as identity writes them, with plausible values; the per-face fields
    (timestamp_s, box, quality, vhash) are set by _face_record."""
    first = float(rng.uniform(0, 5))
    last = first + float(rng.uniform(2, 10))
    return {
        "video_id": video_id, "person": person, "influencer_id": influencer_id, "timestamp_s": first,
        "box": [0, 0, 0, 0], "quality": 0.0, "first_seen_s": first, "last_seen_s": last, "faces": count * 2,
        "screen_time_s": last - first, "best_quality": 0.95, "crop": f"{video_id}-{person}.jpg",
        "cooccurs": [] if other is None else [other], "ambiguous": False,
    }


def _face_record(person: dict[str, object], k: int, vector: np.ndarray, rng: np.random.Generator) -> FaceRecord:
    side = int(rng.integers(80, 400))
    top, left = int(rng.integers(0, 600)), int(rng.integers(0, 300))
    return FaceRecord.from_payload({
        **person, "timestamp_s": float(person["first_seen_s"]) + k,  # type: ignore[arg-type]
        "box": [top, left + side, top + side, left], "quality": float(rng.uniform(0.4, 0.95)),
        "vhash": vector_hash(vector)})


def _appearance(p: dict[str, object]) -> AppearanceRow:
    return AppearanceRow(
        str(p["video_id"]), str(p["influencer_id"]), float(p["first_seen_s"]),  # type: ignore[arg-type]
        float(p["last_seen_s"]), int(p["faces"]), float(p["screen_time_s"]),  # type: ignore[arg-type]
        float(p["best_quality"]))  # type: ignore[arg-type]


def _video(video_id: str, who: np.ndarray, centres: np.ndarray, ids: list[str],
           rng: np.random.Generator) -> SyntheticVideo:
    faces: list[FacePoint] = []
    appearances = []
    for person, centre in enumerate(who):
        other = (1 - person) if len(who) == 2 else None
        count = int(rng.integers(*FACES_PER_PERSON))
        payload = _person_payload(video_id, person, ids[centre], other, count, rng)
        vectors = centres[centre] + rng.normal(0.0, WITHIN_SD, (count, VECTOR_SIZE))
        faces += [FacePoint(point_id(video_id, person, k), v.astype(np.float32), _face_record(payload, k, v, rng))
                  for k, v in enumerate(vectors)]
        appearances.append(_appearance(payload))
    row = VideoRow(f"https://synthetic.invalid/{video_id}.mp4", video_id, float(rng.normal(1.0, 0.3)), DONE,
                   duration_s=float(rng.uniform(2, 15)), faces=sum(a.faces for a in appearances))
    return SyntheticVideo(row, appearances, faces)


def synthetic_videos(n: int, mean: np.ndarray, seed: int = 0) -> Iterator[SyntheticVideo]:
    """Videos of one or two people (two: seen together, as in a split screen) until `n` faces are made;
    the last video may keep fewer faces than its record says."""
    rng = np.random.default_rng(seed)
    people = people_count(n)
    centres = mean + rng.normal(0.0, BETWEEN_SD, (people, VECTOR_SIZE))
    ids = [new_influencer_id(f"synthetic{c}", 0) for c in range(people)]
    made = 0
    while made < n:
        who = rng.choice(people, size=min(people, 1 if rng.random() < 0.7 else 2), replace=False)
        video = _video(f"{int(rng.integers(2**62)):016x}", who, centres, ids, rng)
        video.faces = video.faces[: n - made]
        made += len(video.faces)
        yield video


def _chunks(videos: Iterator[SyntheticVideo]) -> Iterator[list[SyntheticVideo]]:
    chunk: list[SyntheticVideo] = []
    for video in videos:
        chunk.append(video)
        if len(chunk) == CHUNK_VIDEOS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def prefill_stores(settings: Settings, faces: int, mean: np.ndarray) -> PrefillFigures:
    """Before the stack opens them, writes `faces` synthetic faces into its face store (open_face_store:
    Qdrant Edge under data_dir/qdrant/edge, through the FaceStore.upsert identity uses) and their videos, as
    done, into its analytics store: stores in step and indexed, as a finished batch leaves them. (Faces of
    videos analytics does not know would be removed by the repair that follows an interrupted batch.)"""
    t0 = time.perf_counter()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    face_store = open_face_store(settings)
    store = AnalyticsStore(settings.data_dir / "analytics.sqlite3")
    videos = 0
    try:
        for chunk in _chunks(synthetic_videos(faces, mean)):
            face_store.upsert([f for v in chunk for f in v.faces])
            store.record_many((v.row, v.appearances) for v in chunk)
            videos += len(chunk)
        face_store.optimize()  # as the batch's CloseBatch does
    finally:
        face_store.close()
        store.close()
    return PrefillFigures(faces, people_count(faces), videos, time.perf_counter() - t0)


@dataclass
class Incremental:
    store_size: int
    empty: PipelineFigures
    filled: PipelineFigures | None = None
    prefill: PrefillFigures | None = None

    def ratio(self, attr: str) -> float | None:
        """filled / empty of a PipelineFigures attribute; None when either side is missing or zero."""
        if self.filled is None or not getattr(self.empty, attr) or getattr(self.filled, attr) is None:
            return None
        return float(getattr(self.filled, attr) / getattr(self.empty, attr))

    def as_json(self) -> dict[str, object]:
        return {
            "store_size": self.store_size,
            "prefill": asdict(self.prefill) if self.prefill else None,
            "empty": self.empty.as_json(), "filled": self.filled.as_json() if self.filled else None,
            "ratios": {a: self.ratio(a) for a in ("ingest_s_per_video", "identity_s_per_video", "reconcile_s",
                                                   "startup_s", "full_recluster_s")},
        }


def run_incremental(manifest: Path, store_size: int) -> Incremental:
    """Ingests `manifest` into empty stores, then into fresh stores prefilled with `store_size` synthetic
    faces (centred on the mean of the real faces the first run stored); after each, times a whole-store
    Recluster."""
    empty = run_pipeline(manifest, "empty store", full_recluster=True)
    inc = Incremental(store_size, empty)
    mean = np.asarray(empty.mean_encoding) if empty.mean_encoding else np.zeros(VECTOR_SIZE)

    def prefill(settings: Settings) -> None:
        inc.prefill = prefill_stores(settings, store_size, mean)

    inc.filled = run_pipeline(manifest, f"store of {store_size} faces", prefill, full_recluster=True)
    return inc
