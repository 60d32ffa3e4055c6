"""The identity space: one face store, one lock. Assigns analysed videos, re-derives, corrects by hand
(merge, split, move, rename, hide, delete, enrol, review answers), brackets batches, and reads influencers,
crops and the review queue. The work itself lives in assignment.py, clustering.py, corrections.py and
review*.py; this class serialises it (two people seen at once must not both found an influencer, and a
re-derivation must not interleave with a write)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.identity import clustering, corrections, undo
from services.identity.analyzer import VideoAnalysis
from services.identity.appearances import UNCONFIRMED, AppearanceOut, appearances_of
from services.identity.assignment import Thresholds, assign_video, copy_video, enrol_faces, enrol_target, forget_video
from services.identity.crops import CropStore
from services.identity.facestore import FaceStore
from services.identity.review import ANSWERS, Item, Queue
from services.identity.review_store import review_queue
from services.identity.writer_lock import WriterLock


@dataclass
class InfluencerInfo:
    influencer_id: str
    name: str
    videos: list[str]
    faces: int
    best_crop: str
    face_quality: float
    hidden: bool = False
    enrolled: bool = False


@dataclass(frozen=True)
class Label:
    """What the analyst has said of an influencer, for analytics: its name, hidden, or erased."""

    influencer_id: str
    name: str = ""
    hidden: bool = False
    deleted: bool = False
    erased_key: str = ""  # of an erasure in the feed: the keyed hash standing for the id (which is then "")


class IdentityRegistry:
    def __init__(self, store: FaceStore, crops: CropStore, thresholds: Thresholds,
                 lock: WriterLock | None = None) -> None:
        """`lock`: the writers' lock (shared with the other identity replicas on PostgreSQL); a process-local
        one by default."""
        self.store = store
        self.crops = crops
        self.thresholds = thresholds
        self.lock = lock or WriterLock()

    # ---- one video --------------------------------------------------------------------------------
    def assign(self, video_id: str, analysis: VideoAnalysis) -> list[AppearanceOut]:
        with self.lock:
            return assign_video(self.store, self.crops, video_id, analysis, self.thresholds)

    def copy(self, video_id: str, source_video_id: str) -> list[AppearanceOut]:
        """`video_id` as a repost of `source_video_id` (assignment.copy_video)."""
        with self.lock:
            return copy_video(self.store, self.crops, video_id, source_video_id)

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
                table = clustering.FaceTable.build(self.store.columns(clustering.TABLE_FIELDS),
                                                   self.store.count())
            new = clustering.derive(self.store, table, t.cluster, t.margin)
            assignments, changed = clustering.moves(table, new)
            del table, new  # the writes and the re-indexing need none of it (a whole store's table: ~0.5 GB)
            self.store.set_influencer(assignments)
            if not video_ids:  # the engine moved every updated face out of its index: index them again now
                self.store.optimize()
            return sorted(changed - self._reference_videos())

    def _reference_videos(self) -> set[str]:
        """The ids of the reference photos of enrolled people (no videos)."""
        return {f.record.video_id for f in self.store.faces_where("reference", [1])}

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

    def join(self, live: list[str]) -> list[str]:
        """Merges `live` (ids that stood for influencers when a merge began) into the first (corrections.join)."""
        with self.lock:
            return corrections.join(self.store, live) if len(set(live)) > 1 else []

    def live_ids(self, influencer_ids: list[str]) -> list[str]:
        """What `influencer_ids` stand for now (corrections.live_ids); KeyError for an unknown one."""
        with self.lock:
            return corrections.live_ids(self.store, influencer_ids)

    def split(self, influencer_id: str, video_ids: list[str], target: str = "") -> list[str]:
        """See corrections.split; `target`: the new influencer's id, as split_target chose it."""
        with self.lock:
            return corrections.split(self.store, influencer_id, video_ids, target)

    def split_target(self, influencer_id: str, video_ids: list[str]) -> str:
        with self.lock:
            return corrections.split_target(self.store, influencer_id, video_ids)

    def interrupted_target(self, influencer_id: str, video_ids: list[str]) -> str:
        """See corrections.interrupted_target."""
        with self.lock:
            return corrections.interrupted_target(self.store, influencer_id, video_ids)

    def rename(self, influencer_id: str, name: str) -> None:
        with self.lock:
            corrections.rename(self.store, influencer_id, name)

    def move(self, video_id: str, influencer_id: str, target: str = "", chosen: str = "") -> tuple[list[str], str]:
        """One video's appearance of an influencer to `target` ("" a new one); (changed videos, target).
        `chosen`: see corrections.move."""
        with self.lock:
            return corrections.move(self.store, video_id, influencer_id, target, chosen)

    def hide(self, influencer_id: str, hidden: bool) -> None:
        with self.lock:
            corrections.hide(self.store, influencer_id, hidden)

    def absorbed(self, influencer_id: str) -> list[str]:
        """The ids merged away into `influencer_id`, holding no face now (corrections.absorbed)."""
        with self.lock:
            return corrections.absorbed(self.store, influencer_id)

    def delete(self, influencer_id: str, subject_hmac: str = "", missing_ok: bool = False) -> list[str]:
        """Erases an influencer (see corrections.delete); returns the videos it appeared in."""
        with self.lock:
            return corrections.delete(self.store, self.crops, influencer_id, subject_hmac, missing_ok)

    def enrol(self, name: str, photos: list[tuple[str, np.ndarray]]) -> tuple[str, list[str]]:
        """Reference faces `photos` ((photo id, encoding), one person) join the influencer they match or a
        new one, which takes `name`; the neighbourhood is re-derived around them. Returns (influencer id,
        changed videos). An influencer that has another name is never renamed by this: corrections.NameTaken,
        and nothing is written."""
        name = corrections.checked_name(name)
        if not name:
            raise ValueError("enrolling needs a name")
        if not photos:
            raise ValueError("no face found in the photos given")
        with self.lock:
            target = enrol_target(self.store, photos, self.thresholds)
            current = self.store.names().get(target, "")
            if current and current != name:
                raise corrections.NameTaken(
                    f"the photos match {target}, already named {current!r}: enrol them as {current!r}, or rename "
                    f"{target} first")
            enrol_faces(self.store, photos, self.thresholds, target)
            corrections.rename(self.store, target, name)
            undo.enrolled(self.store, target)  # the earlier corrections it relies on can no longer be undone
            changed = self.recluster(sorted({p for p, _ in photos}))
            return target, changed

    def review(self, band: float, limit: int) -> list[Item]:
        """The "same person?" queue, the less likely included: at most `limit` items, most likely first."""
        return self.review_queue(band, 0.0, limit, unlikely=True).items

    def review_queue(self, band: float, floor: float, limit: int, unlikely: bool = False) -> Queue:
        """The "same person?" queue: at most `limit` items, most likely first (those under the probability
        `floor` only when `unlikely`), and how many are left on each side of the floor."""
        with self.lock:
            return review_queue(self.store, corrections.answered_pairs(self.store), self.store.hidden(),
                                self.thresholds.cluster, band, floor, limit, unlikely)

    def answer(self, a: str, b: str, reply: str) -> list[str]:
        """Applies a review answer (same / different / skip); returns the changed videos."""
        if reply not in ANSWERS:
            raise ValueError(f"answer {reply[:80]!r} is not one of {', '.join(ANSWERS)}")
        with self.lock:
            return corrections.answer(self.store, a, b, reply)

    def labels(self, influencer_ids: list[str]) -> list[Label]:
        """The current label of each influencer given (a merged-away or unknown one: no name, shown)."""
        names, hidden = self.store.names(), self.store.hidden()
        return [Label(i, names.get(i, ""), i in hidden) for i in dict.fromkeys(influencer_ids) if i]

    # ---- reading ---------------------------------------------------------------------------------
    def influencer_page(self, page_token: str, page_size: int) -> tuple[list[InfluencerInfo], str]:
        """Confirmed influencers by id, after `page_token` (the last id of the previous page); memory and
        reads follow the page, not the store."""
        ids = sorted(i for i in self.store.influencer_counts() if i != UNCONFIRMED and i > page_token)
        page = ids[:page_size]
        names, hidden = self.store.names(), self.store.hidden()
        acc = {i: InfluencerInfo(i, names.get(i, ""), [], 0, "", -1.0, i in hidden) for i in page}
        videos: dict[str, set[str]] = {i: set() for i in page}
        for f in self.store.faces_of(page) if page else []:
            r = f.record
            info = acc[r.influencer_id]
            info.faces += 1
            if r.reference:  # a reference photo: no video, no crop
                info.enrolled = True
                continue
            videos[r.influencer_id].add(r.video_id)
            if r.best_quality > info.face_quality:
                info.face_quality, info.best_crop = r.best_quality, r.crop
        for inf, info in acc.items():
            info.videos = sorted(videos[inf])
            info.face_quality = max(info.face_quality, 0.0)
        return [acc[i] for i in page], (page[-1] if len(ids) > page_size else "")

    def influencer(self, influencer_id: str) -> InfluencerInfo | None:
        faces = self.store.faces_of(influencer_id) if influencer_id != UNCONFIRMED else []
        if not faces:
            return None
        seen = [f for f in faces if not f.record.reference]
        best = max(seen, key=lambda f: f.record.best_quality) if seen else None
        return InfluencerInfo(influencer_id, self.store.names().get(influencer_id, ""),
                              sorted({f.record.video_id for f in seen}), len(faces),
                              best.record.crop if best else "", best.record.best_quality if best else 0.0,
                              influencer_id in self.store.hidden(), len(seen) < len(faces))

    def crop_bytes(self, ref: str) -> bytes | None:
        return self.crops.read(ref)

    def names(self) -> dict[str, str]:
        return self.store.names()
