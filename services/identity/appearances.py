"""The appearances of a video, derived from its stored faces: one per influencer, a person counted once."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.identity.facestore import FacePoint
from services.identity.segments import Segment, from_flat, merge_segments

# A person seen once, in a poor face, and like nobody else is more likely a false detection than a person:
# kept in the store (a later sighting can confirm it) but not an influencer.
UNCONFIRMED = ""
CONFIRM_FACES = 2
CONFIRM_QUALITY = 0.6


def confirmed(faces: int, best_quality: float) -> bool:
    """Enough good faces to call a person an influencer on their own."""
    return faces >= CONFIRM_FACES or best_quality >= CONFIRM_QUALITY


@dataclass
class AppearanceOut:
    """One influencer in one video. Times in seconds from the start; `face_ref` names the best face crop,
    whose bytes travel only with a newly analysed video (`best_face`); `segments`: when on screen, in order."""

    influencer_id: str
    first_seen_s: float
    last_seen_s: float
    faces: int
    screen_time_s: float
    face_ref: str
    face_quality: float
    ambiguous: bool = False
    best_face: bytes = b""
    segments: list[Segment] = field(default_factory=list)

    def absorb(self, other: AppearanceOut) -> None:
        """Two people of one video found to be one influencer: one appearance, counted once."""
        self.first_seen_s = min(self.first_seen_s, other.first_seen_s)
        self.last_seen_s = max(self.last_seen_s, other.last_seen_s)
        self.faces += other.faces
        both_segments = bool(self.segments) and bool(other.segments)
        self.segments = merge_segments(self.segments, other.segments)
        # Two people on screen together (a mirror, picture in picture, merged by the analyst) are one person
        # for that time: the sum is capped by the time their joined segments cover (each an upper bound of
        # the true time, so the cap never counts less than was seen).
        self.screen_time_s += other.screen_time_s
        if both_segments:
            self.screen_time_s = min(self.screen_time_s, sum(s.end_s - s.start_s for s in self.segments))
        self.ambiguous = self.ambiguous or other.ambiguous
        if other.face_quality > self.face_quality:
            self.face_ref, self.face_quality, self.best_face = other.face_ref, other.face_quality, other.best_face


def appearances_of(faces: list[FacePoint]) -> list[AppearanceOut]:
    """One appearance per influencer of one video's stored faces, by first sighting. Segments are the
    person's own, kept on each face by analysis, which saw every sampled frame. Faces stored before segments
    were kept give none: the stored faces are only the few encoded per track, and segments made of their
    times would show a person on screen throughout as a few blips (the page draws first to last seen)."""
    people: dict[int, FacePoint] = {}
    for f in faces:
        if not f.record.reference:  # a reference photo of an enrolled person is never an appearance
            people.setdefault(f.record.person, f)
    out: dict[str, AppearanceOut] = {}
    for _, f in sorted(people.items()):
        r = f.record
        if r.influencer_id == UNCONFIRMED:
            continue
        app = AppearanceOut(r.influencer_id, r.first_seen_s, r.last_seen_s, r.faces, r.screen_time_s, r.crop,
                            r.best_quality, r.ambiguous,
                            segments=from_flat(r.segments))
        if app.influencer_id in out:
            out[app.influencer_id].absorb(app)
        else:
            out[app.influencer_id] = app
    return sorted(out.values(), key=lambda a: a.first_seen_s)
