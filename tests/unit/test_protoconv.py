"""Plain values to and from the contract's Timestamps and review reasons (services/common/protoconv.py)."""

from influencers.v1 import identity_pb2, ingest_pb2
from services.common.protoconv import review_reason, review_reason_word, seconds, timestamp


def test_seconds_since_the_epoch_survive_a_timestamp_to_the_microsecond() -> None:
    for s in (1.5, 1_764_000_000.123456, 0.000001):
        assert abs(seconds(timestamp(s)) - s) < 1e-6


def test_zero_seconds_leaves_the_time_unset_and_an_unset_time_reads_zero() -> None:
    job = ingest_pb2.Job(job_id="j", create_time=timestamp(12.0), end_time=timestamp(0.0))
    assert job.HasField("create_time") and not job.HasField("end_time")
    assert seconds(job.end_time) == 0.0


def test_review_reasons_travel_as_enums_and_come_back_as_the_same_words() -> None:
    for word in ("near the threshold", "ambiguous match"):
        assert review_reason(word) != identity_pb2.REVIEW_REASON_UNSPECIFIED
        assert review_reason_word(review_reason(word)) == word
    assert review_reason("something else") == identity_pb2.REVIEW_REASON_UNSPECIFIED
    assert review_reason_word(identity_pb2.REVIEW_REASON_UNSPECIFIED) == ""
    assert review_reason_word(99) == ""
