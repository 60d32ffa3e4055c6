"""Bytes written before media times were Durations read as they were meant (services/common/legacy_times.py),
and the seconds <-> Duration helpers (services/common/protoconv.py) keep nanoseconds."""

from __future__ import annotations

import math

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.unknown_fields import UnknownFieldSet

from influencers.v1 import analytics_pb2, common_pb2, identity_pb2, ingest_pb2
from services.common.legacy_times import LEGACY_TIMES, upgrade_media_times
from services.common.protoconv import duration, durations, seconds, seconds_by_key
from tests.support.legacy_bytes import (
    CHANGE_TIMES,
    LEGACY_CHANGE,
    LEGACY_RESULT,
    RESULT_APPEARANCE,
    RESULT_DURATION_S,
    RESULT_STAGES,
    VIDEO,
)


def times(a: common_pb2.Appearance) -> tuple:
    return (seconds(a.first_seen), seconds(a.last_seen), seconds(a.screen_time),
            tuple((seconds(s.start), seconds(s.end), seconds(s.best)) for s in a.segments))


@pytest.mark.parametrize("value", [0.0, 0.1, 1 / 3, 5.8333333, 12.345678901, 3600.000000001, 86_400 * 30.5, -2.25])
def test_seconds_go_through_a_duration_to_the_nanosecond(value: float) -> None:
    assert seconds(duration(value)) == pytest.approx(value, abs=1e-9)
    assert seconds(duration(seconds(duration(value)))) == seconds(duration(value))  # a second trip changes nothing


def test_a_time_with_no_more_than_nanoseconds_comes_back_exactly() -> None:
    for value in (0.5, 1.25, 9.5, 0.333333333, 7.000000001, 123456.789):
        assert seconds(duration(value)) == value


def test_an_unset_duration_reads_as_zero_and_a_nan_has_no_duration() -> None:
    assert seconds(common_pb2.Appearance().first_seen) == 0.0
    with pytest.raises(ValueError, match="nan"):
        duration(math.nan)
    with pytest.raises(ValueError, match="inf"):
        duration(math.inf)


def test_a_map_of_seconds_travels_as_durations() -> None:
    msg = ingest_pb2.WatchJobResponse(stage_durations=durations({"fetch": 0.125, "decode": 1.5}))
    assert seconds_by_key(msg.stage_durations) == {"fetch": 0.125, "decode": 1.5}


def test_an_old_change_keeps_its_times_in_unknown_fields_until_upgraded() -> None:
    change = identity_pb2.Change.FromString(LEGACY_CHANGE)
    first = change.videos[0].appearances[0]
    assert seconds(first.first_seen) == 0.0  # the old number is reserved: never read as the new field
    assert {f.field_number for f in UnknownFieldSet(first)} == {2, 3, 8}
    assert upgrade_media_times(change)
    assert change.videos[0].video_id == VIDEO
    assert [(a.influencer_id, *times(a)) for a in change.videos[0].appearances] == CHANGE_TIMES
    assert change.names == {"inf_aaaaaaaaaa": "Ann"} and change.create_time.seconds == 1764892800
    assert len(UnknownFieldSet(first)) == 0


def test_an_upgraded_message_is_left_alone_the_second_time() -> None:
    change = identity_pb2.Change.FromString(LEGACY_CHANGE)
    upgrade_media_times(change)
    again = identity_pb2.Change.FromString(change.SerializeToString())
    assert not upgrade_media_times(again)
    assert again == change


def test_an_old_job_result_gets_its_video_length_appearance_times_and_stage_durations() -> None:
    result = ingest_pb2.WatchJobResponse.FromString(LEGACY_RESULT)
    assert upgrade_media_times(result)
    assert seconds(result.video.duration) == RESULT_DURATION_S
    assert (result.video.url, result.video.faces, result.done, result.total) == ("a.mp4", 5, 1, 2)
    assert seconds_by_key(result.stage_durations) == RESULT_STAGES
    assert [times(a) for a in result.appearances] == [RESULT_APPEARANCE]


def test_every_legacy_number_is_reserved_and_names_a_duration_field_of_the_new_contract() -> None:
    descriptors = {m.DESCRIPTOR.full_name: m.DESCRIPTOR for m in (
        common_pb2.Appearance, common_pb2.Segment, common_pb2.Video, identity_pb2.ReviewItem,
        identity_pb2.AnalyzeVideoRequest, identity_pb2.AnalyzeVideoResponse, ingest_pb2.WatchJobResponse,
        analytics_pb2.InfluencerStats)}
    assert set(descriptors) == set(LEGACY_TIMES)
    for name, table in LEGACY_TIMES.items():
        proto = descriptor_pb2.DescriptorProto()
        descriptors[name].CopyToProto(proto)
        reserved = {n for r in proto.reserved_range for n in range(r.start, r.end)}
        for number, (field, kind) in table.items():
            assert number in reserved, (name, number)
            target = descriptors[name].fields_by_name[field].message_type
            if kind == "map":
                target = target.fields_by_name["value"].message_type
            assert target.full_name == "google.protobuf.Duration", (name, field)
