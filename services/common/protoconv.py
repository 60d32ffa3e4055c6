"""Plain Python values to and from the contract's well-known types and enums (protos/influencers/v1).

Times inside the services stay floats of seconds: wall-clock times since the Unix epoch (what `time.time()`
gives), which the contract carries as `google.protobuf.Timestamp`, and media times (a position in a video, a
length, time spent in a stage), which it carries as `google.protobuf.Duration`. Both keep nanoseconds: a float
of seconds goes through them losing nothing coarser. Reasons that the domain keeps as words travel as enums.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from influencers.v1 import common_pb2, identity_pb2

# What a review item's reason is called in the domain (services/identity/review.py) and on screen.
REVIEW_REASON_WORDS = {
    identity_pb2.REVIEW_REASON_NEAR_THRESHOLD: "near the threshold",
    identity_pb2.REVIEW_REASON_AMBIGUOUS_MATCH: "ambiguous match",
    identity_pb2.REVIEW_REASON_SAME_VIDEO: "one video, different shots",
    identity_pb2.REVIEW_REASON_FAR_APART: "far apart",
}
_REVIEW_REASONS = {word: value for value, word in REVIEW_REASON_WORDS.items()}


def timestamp(seconds: float) -> Timestamp | None:
    """`seconds` since the Unix epoch as a Timestamp (nanosecond precision); None for 0, "not yet", so that
    the field stays unset."""
    if not seconds:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(round(seconds * 1e9))
    return ts


def seconds(value: Timestamp | Duration) -> float:
    """A Timestamp as seconds since the Unix epoch, or a Duration as seconds; 0.0 when unset."""
    if isinstance(value, Duration):
        # One division of the exact count of nanoseconds: the float nearest to it (under 2**53 ns, 104 days).
        return value.ToNanoseconds() / 1e9
    return value.seconds + value.nanos / 1e9


def duration(seconds: float) -> Duration:
    """`seconds` (a media time: a position in a video, a length) as a Duration, to the nearest nanosecond. Zero
    is a Duration like any other (a face seen at the very start): it reads back as 0.0, as an unset one does.
    A NaN or an infinity has no Duration: ValueError."""
    if not math.isfinite(seconds):
        raise ValueError(f"{seconds!r} seconds is not a time a Duration can carry")
    d = Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


MAX_DURATION_SECONDS = 315_576_000_000  # google.protobuf.Duration's bound (10,000 years)


def duration_problem(name: str, value: Duration) -> str | None:
    """Why `value` is no media time (a position or a length: at least 0), naming it `name`; None when it is one.
    The stubs let through what a Duration may not be: negative, signs mixed, nanos of a second or more, or past
    its range of 10,000 years."""
    if 0 <= value.seconds <= MAX_DURATION_SECONDS and 0 <= value.nanos < 1_000_000_000:
        return None
    return f"{name} ({value.seconds} s, {value.nanos} ns) is not a valid duration of at least 0"


def durations(by_key: Mapping[str, float]) -> dict[str, Duration]:
    """A map of seconds (time spent, by stage) as the contract's `map<string, Duration>`."""
    return {key: duration(value) for key, value in by_key.items()}


def seconds_by_key(by_key: Mapping[str, Duration]) -> dict[str, float]:
    """A `map<string, Duration>` as seconds by key."""
    return {key: seconds(value) for key, value in by_key.items()}


def review_reason(word: str) -> int:
    """A review item's reason word ("near the threshold", "ambiguous match", "one video, different shots") as a
    ReviewReason; UNSPECIFIED for any other word."""
    return _REVIEW_REASONS.get(word, identity_pb2.REVIEW_REASON_UNSPECIFIED)


def review_reason_word(reason: int) -> str:
    """A ReviewReason as the word shown to people; "" for UNSPECIFIED or a value this version does not know."""
    return REVIEW_REASON_WORDS.get(reason, "")  # type: ignore[call-overload]


def status_word(status: int) -> str:
    """A VideoStatus as its word: `VIDEO_STATUS_DONE` -> "done"; a value this version does not know ->
    "unspecified"."""
    try:
        name = common_pb2.VideoStatus.Name(status)  # type: ignore[arg-type]
    except ValueError:
        name = "VIDEO_STATUS_UNSPECIFIED"
    return name.removeprefix("VIDEO_STATUS_").lower()


def change_kind_word(kind: int) -> str:
    """A feed Change's kind as its word: `CHANGE_KIND_RECLUSTER` -> "recluster"; the number of a kind this version
    does not know (a newer identity's), which must not stop the change from being applied."""
    try:
        return identity_pb2.ChangeKind.Name(kind).removeprefix("CHANGE_KIND_").lower()  # type: ignore[arg-type]
    except ValueError:
        return str(kind)
