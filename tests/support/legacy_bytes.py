"""Protobuf bytes as the release before media times became Durations wrote them (commit ca88558), for the
upgrade tests of the stores that keep serialised messages. Made once with the old stubs:

    for f in common identity ingest; do
        git show ca88558:protos/influencers/v1/$f.proto > old/influencers/v1/$f.proto
    done
    python -m grpc_tools.protoc -Iold --python_out=out old/influencers/v1/*.proto

and the messages below (LEGACY_CHANGE, LEGACY_RESULT) built with those stubs and written out with
SerializeToString().hex(). What they hold, in the old fields, is spelled out in CHANGE_TIMES and RESULT_TIMES.
"""

from __future__ import annotations

VIDEO = "00000000000000aa"
ANN, BOB = "inf_aaaaaaaaaa", "inf_bbbbbbbbbb"

# identity_pb2.Change(kind=VIDEO, create_time=2025-12-05T00:00:00Z, names={ANN: "Ann"}, videos=[VIDEO:
#   Appearance(ANN, first_seen_s=1.5, last_seen_s=7.25, faces=4, face_quality=0.8, screen_time_s=5.75,
#              face_ref=VIDEO-0, segments=[(1.5, 3.0, 2.0), (0.0, 0.0, 0.0), (5.0, 7.25, 6.125)]),
#   Appearance(BOB, first_seen_s=0.0, last_seen_s=0.333333333, faces=1, screen_time_s=0.333333333,
#              face_ref=VIDEO-1)])
LEGACY_CHANGE = bytes.fromhex(
    "10011a060880c1c8c90622d5010a10303030303030303030303030303061611286010a0e696e665f6161616161616161616111000000"
    "000000f83f190000000000001d402004319a9999999999e93f4100000000000017404a12303030303030303030303030303061612d30"
    "521b09000000000000f83f1100000000000008401900000000000000405200521b090000000000001440110000000000001d40190000"
    "00000080184012380a0e696e665f626262626262626262621916b5f9545555d53f20014116b5f9545555d53f4a123030303030303030"
    "30303030303061612d312a150a0e696e665f616161616161616161611203416e6e")
# (influencer, first_seen_s, last_seen_s, screen_time_s, segments) of LEGACY_CHANGE's appearances.
CHANGE_TIMES = [(ANN, 1.5, 7.25, 5.75, ((1.5, 3.0, 2.0), (0.0, 0.0, 0.0), (5.0, 7.25, 6.125))),
                (BOB, 0.0, 0.333333333, 0.333333333, ())]

# ingest_pb2.WatchJobResponse(done=1, total=2, video=Video(VIDEO, url="a.mp4", performance=1.5, status=DONE,
#   duration_s=9.5, faces=5, location="/m/a.mp4"), stage_seconds={"fetch": 0.125, "decode": 1.5,
#   "identity": 2.0625}, appearances=[Appearance(first_seen_s=1.5, last_seen_s=7.25, faces=4, screen_time_s=5.75,
#   face_ref=VIDEO-0, segments=[(1.5, 3.0, 2.0)])])  -- as the job store keeps it: no influencer id, no crop
LEGACY_RESULT = bytes.fromhex(
    "0a390a10303030303030303030303030303061611205612e6d703419000000000000f83f200331000000000000234038054a082f6d2f"
    "612e6d7034124e11000000000000f83f190000000000001d4020044100000000000017404a12303030303030303030303030303061"
    "612d30521b09000000000000f83f110000000000000840190000000000000040180120022a130a086964656e74697479110000000000"
    "8000402a110a066465636f646511000000000000f83f2a100a05666574636811000000000000c03f")
RESULT_DURATION_S = 9.5
RESULT_STAGES = {"fetch": 0.125, "decode": 1.5, "identity": 2.0625}
RESULT_APPEARANCE = (1.5, 7.25, 5.75, ((1.5, 3.0, 2.0),))
