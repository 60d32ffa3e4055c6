"""Plain rows of the analytics store and their pure conversions to and from the protos."""

from __future__ import annotations

from dataclasses import dataclass, replace

from influencers.v1 import common_pb2
from services.common.location_key import location_key
from services.common.protoconv import duration, seconds
from services.common.url_secrets import links_hidden, path_link_keyed, path_userinfo_hidden, secrets_hidden

DONE = common_pb2.VIDEO_STATUS_DONE
FAILED = common_pb2.VIDEO_STATUS_FAILED
DUPLICATE = common_pb2.VIDEO_STATUS_DUPLICATE
# Video.repeats at most: the rows of the largest manifest (services/ingest/manifest.py MAX_ROWS).
MAX_REPEATS = 1_000_000
# Video.repeats summed over every row of the store at most: each repeat is a row of videos.csv (and of every
# export that lists rows), so a caller sending many rows each near MAX_REPEATS would make the report as large
# as it liked. Ten of the largest manifests listed again row for row; ingest's rows are far below it.
MAX_TOTAL_REPEATS = 10 * MAX_REPEATS
# Video.start at most, in seconds: a recording's clock (MPEG-TS wraps at 26.5 hours), far below a stream's limits.
MAX_START_S = 10_000_000



@dataclass(frozen=True)
class VideoRow:
    """One manifest row as the system knows it. `status` is a `common_pb2.VideoStatus` value; `url` is
    exactly as the manifest wrote it, `location` where its bytes were read (absolute path or http(s) URL;
    empty means `url` stands for it, as for rows recorded before locations were kept)."""

    url: str
    video_id: str = ""
    performance: float | None = None
    status: int = common_pb2.VIDEO_STATUS_PENDING
    error: str = ""
    duration_s: float = 0.0
    faces: int = 0
    external_id: str = ""
    location: str = ""
    # Later rows of its submission with the same URL, listed as its duplicates (Video.repeats).
    repeats: int = 0
    # Seconds from a player's 0 to the video's first frame, whence appearance times count (Video.start).
    start_s: float = 0.0

    @property
    def key(self) -> str:
        """The row's identity in the store: its location, or its URL when it has none, at a length every
        engine indexes (services/common/location_key.py)."""
        return location_key(self.location or self.url)


def secrets_kept_out(row: VideoRow) -> VideoRow:
    """`row` as the store keeps it, whoever gave it: its url with its secrets hidden (url_secrets.secrets_hidden)
    and the links its error names hidden, as ingest gives them; a row without location keyed by its url as
    given (its secrets digested there: VideoRow.key), so that links differing in a secret stay two rows. A link given
    without its scheme (`//ann:pw@cdn/v.mp4`, read as a local path by an ingest of the release before) has its user
    name and password hidden in its location and error too (url_secrets.path_userinfo_hidden), and the tokens of its
    query and path digested in its location (url_secrets.path_link_keyed: was kept as given)."""
    location = path_link_keyed(path_userinfo_hidden(row.location, row.url), row.url) or row.url
    return replace(row, url=secrets_hidden(row.url), error=links_hidden(path_userinfo_hidden(row.error, row.url)),
                   location=location)


@dataclass(frozen=True)
class AppearanceRow:
    """One influencer in one video. Times in seconds from the start; `face_quality` in [0, 1]."""

    video_id: str
    influencer_id: str
    first_seen_s: float = 0.0
    last_seen_s: float = 0.0
    faces: int = 0
    screen_time_s: float = 0.0
    face_quality: float = 0.0
    best_face: bytes = b""
    ambiguous: bool = False
    # Identity's reference of best_face: a crop recorded once is kept when re-clustering sends the ref alone.
    face_ref: str = ""
    # When on screen: (start_s, end_s, best_s) runs of sampled frames, by start; best_s is the best face's time.
    segments: tuple[tuple[float, float, float], ...] = ()



def video_from_proto(msg: common_pb2.Video) -> VideoRow:
    return VideoRow(
        url=msg.url,
        video_id=msg.video_id,
        performance=msg.performance if msg.HasField("performance") else None,
        status=int(msg.status),
        error=msg.error,
        duration_s=seconds(msg.duration),
        faces=msg.faces,
        external_id=msg.external_id,
        location=msg.location,
        repeats=msg.repeats,
        start_s=seconds(msg.start),
    )


def video_to_proto(row: VideoRow) -> common_pb2.Video:
    msg = common_pb2.Video(
        video_id=row.video_id,
        url=row.url,
        status=row.status,  # type: ignore[arg-type]
        error=row.error,
        duration=duration(row.duration_s),
        faces=row.faces,
        external_id=row.external_id,
        location=row.location,
        repeats=row.repeats,
        start=duration(row.start_s),
    )
    if row.performance is not None:
        msg.performance = row.performance
    return msg


def appearance_from_proto(video_id: str, msg: common_pb2.Appearance) -> AppearanceRow:
    return AppearanceRow(
        video_id=video_id,
        influencer_id=msg.influencer_id,
        first_seen_s=seconds(msg.first_seen),
        last_seen_s=seconds(msg.last_seen),
        faces=msg.faces,
        screen_time_s=seconds(msg.screen_time),
        face_quality=msg.face_quality,
        best_face=bytes(msg.best_face),
        ambiguous=msg.ambiguous,
        face_ref=msg.face_ref,
        segments=tuple((start, end, best) for start, end, best in
                       ((seconds(s.start), seconds(s.end), seconds(s.best)) for s in msg.segments) if start <= end),
    )


def appearance_to_proto(row: AppearanceRow) -> common_pb2.Appearance:
    return common_pb2.Appearance(
        influencer_id=row.influencer_id,
        first_seen=duration(row.first_seen_s),
        last_seen=duration(row.last_seen_s),
        faces=row.faces,
        best_face=row.best_face,
        face_quality=row.face_quality,
        ambiguous=row.ambiguous,
        screen_time=duration(row.screen_time_s),
        face_ref=row.face_ref,
        segments=[common_pb2.Segment(start=duration(s), end=duration(e), best=duration(b)) for s, e, b in row.segments],
    )


def merge_appearances(rows: list[AppearanceRow]) -> list[AppearanceRow]:
    """One row per (video_id, influencer_id), sorted: first/last seen widened, faces and screen time
    summed, the best face kept, ambiguous if any part was, segments of both by start. Input order does not
    matter."""
    merged: dict[tuple[str, str], AppearanceRow] = {}
    for row in rows:
        key = (row.video_id, row.influencer_id)
        old = merged.get(key)
        if old is None:
            merged[key] = row
            continue
        best = row if row.face_quality > old.face_quality else old
        merged[key] = AppearanceRow(
            video_id=row.video_id,
            influencer_id=row.influencer_id,
            first_seen_s=min(old.first_seen_s, row.first_seen_s),
            last_seen_s=max(old.last_seen_s, row.last_seen_s),
            faces=old.faces + row.faces,
            screen_time_s=old.screen_time_s + row.screen_time_s,
            face_quality=best.face_quality,
            best_face=best.best_face,
            ambiguous=old.ambiguous or row.ambiguous,
            face_ref=best.face_ref,
            segments=tuple(sorted(old.segments + row.segments)),
        )
    return [merged[key] for key in sorted(merged)]
