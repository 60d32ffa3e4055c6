"""The identity space: one face store, one lock. Assigns analysed videos, re-derives, merges, splits and
renames influencers, brackets batches, and reads influencers and crops a page at a time. The work itself
lives in assignment.py, clustering.py and corrections.py; this class serialises it (two people seen at once
must not both found an influencer, and a re-derivation must not interleave with a write)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from services.identity import clustering, corrections
from services.identity.analyzer import VideoAnalysis
from services.identity.appearances import UNCONFIRMED, AppearanceOut, appearances_of
from services.identity.assignment import NEIGHBOURS, Thresholds, assign_video, forget_video
from services.identity.crops import CropStore
from services.identity.facestore import FaceStore


@dataclass
class InfluencerInfo:
    influencer_id: str
    name: str
    videos: list[str]
    faces: int
    best_crop: str
    face_quality: float


class IdentityRegistry:
    def __init__(self, store: FaceStore, crops: CropStore, thresholds: Thresholds) -> None:
        self.store = store
        self.crops = crops
        self.thresholds = thresholds
        self.lock = threading.RLock()

    # ---- one video --------------------------------------------------------------------------------
    def assign(self, video_id: str, analysis: VideoAnalysis) -> list[AppearanceOut]:
        with self.lock:
            return assign_video(self.store, self.crops, video_id, analysis, self.thresholds)

    def forget(self, video_id: str) -> int:
        with self.lock:
            gone = forget_video(self.store, video_id)
            self.crops.delete(f.record.crop for f in gone)
            return len(gone)

    def video_page(self, page_token: str, page_size: int) -> tuple[list[str], str]:
        return self.store.video_page(page_token, page_size)

    # ---- the whole space ---------------------------------------------------------------------------
    def recluster(self, video_ids: list[str] | None = None) -> list[str]:
        """Re-derives influencers from the stored faces: of the whole store, or with `video_ids` of the
        neighbourhood of those videos' people (their influencers and every influencer with a face near
        theirs), so the cost follows the batch. Returns the videos whose influencers changed."""
        with self.lock:
            t = self.thresholds
            if video_ids:
                table = clustering.FaceTable.build(clustering.neighbourhood(self.store, video_ids, t.cluster))
            else:
                table = clustering.FaceTable.build(self.store.scroll(with_vectors=True), self.store.count())
            new = clustering.derive(self.store, table, t.cluster, t.margin, keep_vectors=False)
            assignments, changed = clustering.moves(table, new)
            self.store.set_influencer(assignments)
            return sorted(changed)

    def appearances(self, video_ids: list[str]) -> dict[str, list[AppearanceOut]]:
        """The current appearances of the given videos (faces by reference), by video."""
        by_video: dict[str, list] = {v: [] for v in video_ids}
        for f in self.store.faces_in(video_ids) if video_ids else []:
            by_video[f.record.video_id].append(f)
        return {v: appearances_of(faces) for v, faces in by_video.items()}

    def open_batch(self, batch: str, worker: str) -> bool:
        """Marks a batch of `worker` (an ingest instance) as under way; True when that worker's previous
        batch never closed (an interrupted run)."""
        with self.lock:
            interrupted = self.store.get_side("batch", worker) is not None
            self.store.set_side("batch", worker, {"batch": batch, "worker": worker})
            return interrupted

    def close_batch(self, worker: str) -> None:
        with self.lock:
            self.store.set_side("batch", worker, None)
            # Index what the batch wrote now, between batches, rather than in the middle of one.
            self.store.optimize()

    def merge(self, influencer_ids: list[str]) -> list[str]:
        with self.lock:
            return corrections.merge(self.store, influencer_ids)

    def split(self, influencer_id: str, video_ids: list[str]) -> list[str]:
        with self.lock:
            return corrections.split(self.store, influencer_id, video_ids)

    def rename(self, influencer_id: str, name: str) -> None:
        with self.lock:
            corrections.rename(self.store, influencer_id, name)

    # ---- reading ---------------------------------------------------------------------------------
    def influencer_page(self, page_token: str, page_size: int) -> tuple[list[InfluencerInfo], str]:
        """Confirmed influencers by id, after `page_token` (the last id of the previous page); memory and
        reads follow the page, not the store."""
        ids = sorted(i for i in self.store.influencer_counts() if i != UNCONFIRMED and i > page_token)
        page = ids[:page_size]
        names = self.store.names()
        acc = {i: InfluencerInfo(i, names.get(i, ""), [], 0, "", -1.0) for i in page}
        videos: dict[str, set[str]] = {i: set() for i in page}
        for f in self.store.faces_of(page) if page else []:
            r = f.record
            info = acc[r.influencer_id]
            info.faces += 1
            videos[r.influencer_id].add(r.video_id)
            if r.best_quality > info.face_quality:
                info.face_quality, info.best_crop = r.best_quality, r.crop
        for inf, info in acc.items():
            info.videos = sorted(videos[inf])
        return [acc[i] for i in page], (page[-1] if len(ids) > page_size else "")

    def influencer(self, influencer_id: str) -> InfluencerInfo | None:
        faces = self.store.faces_of(influencer_id)
        if not faces or influencer_id == UNCONFIRMED:
            return None
        best = max(faces, key=lambda f: f.record.best_quality)
        videos = sorted({f.record.video_id for f in faces})
        return InfluencerInfo(influencer_id, self.store.names().get(influencer_id, ""), videos, len(faces),
                              best.record.crop, best.record.best_quality)

    def crop_bytes(self, ref: str) -> bytes | None:
        return self.crops.read(ref)

    def names(self) -> dict[str, str]:
        return self.store.names()

    def nearest(self, encoding: np.ndarray, limit: int) -> list[tuple[str, float]]:
        hits = self.store.search(encoding[None, :], max(limit * 8, NEIGHBOURS))[0]
        best: dict[str, float] = {}
        for h in hits:
            if h.influencer_id != UNCONFIRMED:
                best.setdefault(h.influencer_id, h.distance)
        return sorted(best.items(), key=lambda kv: kv[1])[:limit]
