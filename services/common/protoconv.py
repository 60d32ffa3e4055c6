"""Plain Python values to and from the contract's well-known types and enums (protos/influencers/v1).

Times inside the services stay floats of seconds since the Unix epoch (what `time.time()` gives); the
contract carries them as `google.protobuf.Timestamp`. Reasons that the domain keeps as words travel as enums.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from influencers.v1 import common_pb2, identity_pb2

# What a review item's reason is called in the domain (services/identity/review.py) and on screen.
REVIEW_REASON_WORDS = {
    identity_pb2.REVIEW_REASON_NEAR_THRESHOLD: "near the threshold",
    identity_pb2.REVIEW_REASON_AMBIGUOUS_MATCH: "ambiguous match",
    identity_pb2.REVIEW_REASON_SAME_VIDEO: "one video, different shots",
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


def seconds(ts: Timestamp) -> float:
    """A Timestamp as seconds since the Unix epoch; 0.0 when unset."""
    return ts.seconds + ts.nanos / 1e9


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
