"""Corrections by hand: merge influencers, split videos off one, rename one. Each returns the videos whose
appearances changed; the caller serialises calls."""

from __future__ import annotations

from collections import defaultdict

from services.identity.facestore import FacePoint, FaceStore
from services.identity.matching import new_influencer_id


def _faces_of(store: FaceStore, influencer_id: str) -> list[FacePoint]:
    faces = store.faces_of(influencer_id)
    if not influencer_id or not faces:
        raise KeyError(f"no influencer {influencer_id!r}")
    return faces


def _move(store: FaceStore, faces: list[FacePoint], target: str) -> list[str]:
    moving = [f for f in faces if f.record.influencer_id != target]
    store.set_influencer({target: [f.point_id for f in moving]} if moving else {})
    return sorted({f.record.video_id for f in moving})


def merge(store: FaceStore, influencer_ids: list[str]) -> list[str]:
    """Every influencer listed joins the first."""
    if len(set(influencer_ids)) < 2:
        raise ValueError("merge needs at least two different influencer ids")
    faces = [f for inf in dict.fromkeys(influencer_ids) for f in _faces_of(store, inf)]
    return _move(store, faces, influencer_ids[0])


def split(store: FaceStore, influencer_id: str, video_ids: list[str]) -> list[str]:
    """The faces of `influencer_id` in `video_ids` become a new influencer."""
    by_person: dict[tuple[str, int], list[FacePoint]] = defaultdict(list)
    for f in _faces_of(store, influencer_id):
        if f.record.video_id in set(video_ids):
            by_person[f.record.person_key].append(f)
    if not by_person:
        raise KeyError(f"{influencer_id} has no faces in the videos given")
    founder = min(by_person)
    return _move(store, [f for fs in by_person.values() for f in fs], new_influencer_id(*founder) + "s")


def rename(store: FaceStore, influencer_id: str, name: str) -> None:
    """Gives an influencer a display name ("" removes it)."""
    _faces_of(store, influencer_id)
    store.set_name(influencer_id, name.strip())
