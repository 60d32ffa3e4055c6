"""Reads the media times of protobuf bytes written before they were Durations, for the stores' migrations.

Until the contract's media times became `google.protobuf.Duration` (issue 18), they were `double` seconds under
other field numbers, which are now `reserved`. A message parsed from such bytes keeps those values as unknown
fields (wire type fixed64, or, for a `map<string, double>`, length-delimited entries), so nothing is lost:
`upgrade_media_times` moves them into the new fields. The table below is the old contract, frozen: which
number of which message was which double, and which Duration field now carries it. Stores of serialised
messages (identity's change feed, ingest's job results) run it over their rows in a migration; a row written
by this release has none of those numbers and is left as it is.
"""

from __future__ import annotations

import math
import struct

from google.protobuf import empty_pb2
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from services.common.protoconv import duration

_FIXED64, _LENGTH_DELIMITED = 1, 2  # wire types

# Message full name -> {old field number: new Duration field}; "map" marks a map<string, double> that became a
# map<string, Duration>.
LEGACY_TIMES: dict[str, dict[int, tuple[str, str]]] = {
    "influencers.v1.Appearance": {2: ("first_seen", "double"), 3: ("last_seen", "double"),
                                  8: ("screen_time", "double")},
    "influencers.v1.Segment": {1: ("start", "double"), 2: ("end", "double"), 3: ("best", "double")},
    "influencers.v1.Video": {6: ("duration", "double")},
    "influencers.v1.ReviewItem": {9: ("timestamp_a", "double"), 10: ("timestamp_b", "double")},
    "influencers.v1.AnalyzeVideoRequest": {3: ("timestamp", "double"), 6: ("span", "double")},
    "influencers.v1.AnalyzeVideoResponse": {6: ("stage_durations", "map")},
    "influencers.v1.WatchJobResponse": {5: ("stage_durations", "map")},
    "influencers.v1.InfluencerStats": {14: ("screen_time", "double")},
}


def upgrade_media_times(message: Message) -> bool:
    """Moves every legacy media time in `message` and the messages inside it into its Duration field, in
    place. True when anything was moved: the unknown fields are then dropped (bytes of an older release hold
    no other), and the caller stores the message again. A NaN or an infinity, which no Duration carries, is
    left unset: it reads as 0 s, as an unset time always did."""
    moved = _move(message)
    if moved:
        message.DiscardUnknownFields()
    return moved


def _move(message: Message) -> bool:
    legacy = _legacy_values(message)
    table = LEGACY_TIMES.get(message.DESCRIPTOR.full_name, {})
    for number, values in legacy.items():
        name, kind = table[number]
        if kind == "map":
            target = getattr(message, name)
            for data in values:
                key, seconds = _map_entry(data)
                if math.isfinite(seconds):
                    target[key].CopyFrom(duration(seconds))
        elif math.isfinite(seconds := _double(values[-1])):  # the last occurrence wins, as the parser's would
            getattr(message, name).CopyFrom(duration(seconds))
    moved = bool(legacy)
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            inner = value.values() if field.message_type.fields_by_name["value"].message_type is not None else ()
        elif field.is_repeated:
            inner = value
        else:
            inner = (value,)
        for item in inner:
            moved = _move(item) or moved
    return moved


def _legacy_values(message: Message) -> dict[int, list[int | bytes]]:
    """The unknown fields of `message` at its legacy numbers with the wire type they had: their raw data."""
    table = LEGACY_TIMES.get(message.DESCRIPTOR.full_name)
    if not table:
        return {}
    found: dict[int, list[int | bytes]] = {}
    for field in UnknownFieldSet(message):
        if field.field_number not in table:
            continue
        wanted = _LENGTH_DELIMITED if table[field.field_number][1] == "map" else _FIXED64
        if field.wire_type == wanted:
            found.setdefault(field.field_number, []).append(field.data)
    return found


def _double(bits: int | bytes) -> float:
    """A fixed64 unknown field's data (its 64 bits as an unsigned int) as the double it was."""
    return float(struct.unpack("<d", struct.pack("<Q", int(bits)))[0])  # type: ignore[arg-type]


def _map_entry(data: int | bytes) -> tuple[str, float]:
    """A map<string, double> entry's bytes (key = 1, value = 2) as (key, value); absent parts are "" and 0.0."""
    entry = empty_pb2.Empty.FromString(bytes(data))  # type: ignore[arg-type]
    key, value = "", 0.0
    for field in UnknownFieldSet(entry):
        if field.field_number == 1 and field.wire_type == _LENGTH_DELIMITED:
            key = bytes(field.data).decode("utf-8")
        elif field.field_number == 2 and field.wire_type == _FIXED64:
            value = _double(field.data)
    return key, value
