"""What the three services refuse at their gRPC boundary, called for real: each server on a free loopback
port, driven through a channel and the generated stub. Oversized or ill-timed frames, ids of kilobytes,
page tokens the server did not make, undefined enum values; and no refusal shows the server's internals."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator

import cv2
import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from google.protobuf.duration_pb2 import Duration

from influencers.v1 import (
    analytics_pb2,
    analytics_pb2_grpc,
    common_pb2,
    identity_pb2,
    identity_pb2_grpc,
    ingest_pb2,
    ingest_pb2_grpc,
)
from services.analytics.server import serve_analytics
from services.analytics.store import AnalyticsStore
from services.common.boundary import INFLUENCER_ID, shown
from services.common.call_names import failed_call
from services.common.damage import StoreDamaged
from services.common.paging import key_token, point_token
from services.common.protoconv import duration
from services.common.rpc import MAX_MESSAGE_BYTES, build_server, open_channel, wait_healthy
from services.common.settings import Settings, SettingsError
from services.identity.process import IdentityProcess
from tests.support.rpc_errors import refusal
from tests.support.service_stubs import ingest_beside, seeded_identity

FRAME_CAP = 100_000  # bytes per frame in these tests
STREAM_CAP = 250_000  # bytes per stream
HUGE = "x" * 10_000  # an id of 10 KB: echoed whole, a reply would near gRPC's size limits
MAX_DETAILS = 400  # characters of a status message that names a bad input, at most
SEEDED = [f"{k:016x}" for k in (1, 2, 3)]  # videos written straight into the face store
INFLUENCERS = [f"inf_{k:010x}" for k in (0xA1, 0xA2, 0xA3)]


def jpeg(size: int = 64) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((size, size, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("boundary"), identity_port=0, analytics_port=0, ingest_port=0,
                    workers=1, max_frame_bytes=FRAME_CAP, max_stream_bytes=STREAM_CAP)


@pytest.fixture(scope="module")
def identity(settings: Settings) -> Iterator[identity_pb2_grpc.IdentityServiceStub]:
    with seeded_identity(settings, SEEDED, INFLUENCERS) as stub:
        yield stub


@pytest.fixture(scope="module")
def analytics(settings: Settings) -> Iterator[tuple[analytics_pb2_grpc.AnalyticsServiceStub, int]]:
    store = AnalyticsStore(settings.data_dir / "analytics.sqlite")
    running = serve_analytics(settings, store)
    channel = open_channel(f"127.0.0.1:{running.port}")
    wait_healthy(channel, timeout_s=10)
    yield analytics_pb2_grpc.AnalyticsServiceStub(channel), running.port
    channel.close()
    running.stop(grace_s=0.5)
    store.close()


@pytest.fixture(scope="module")
def ingest(settings: Settings, analytics) -> Iterator[ingest_pb2_grpc.IngestServiceStub]:
    with ingest_beside(settings, analytics[1]) as stub:
        yield stub


def frame(index: int, image: bytes, video_id: str = "00000000000000ff",
          **fields: Duration) -> identity_pb2.AnalyzeVideoRequest:
    times = {"timestamp": duration(index), "span": duration(1.0), **fields}
    return identity_pb2.AnalyzeVideoRequest(video_id=video_id, index=index, image=image, **times)


# ---- 1. AnalyzeVideo: bytes per frame and per stream, times ----------------------------------------------

def test_a_frame_over_the_byte_cap_is_refused_naming_its_index(identity) -> None:
    error = refusal(identity.AnalyzeVideo, iter([frame(0, jpeg()), frame(1, bytes(FRAME_CAP + 1))]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "frame 1 of the stream (index 1)" in error.details() and str(FRAME_CAP) in error.details()


def test_a_stream_is_refused_at_the_frame_that_takes_it_over_its_byte_cap_while_it_still_arrives(identity) -> None:
    # Endless frames, each under the cap per frame (a JPEG header and 90 KB after it): only a check made as
    # they arrive ends the call.
    endless = (frame(i, jpeg() + bytes(90_000)) for i in itertools.count())
    error = refusal(identity.AnalyzeVideo, endless)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "frame 2 of the stream (index 2)" in error.details() and str(STREAM_CAP) in error.details()


def test_a_frame_cap_the_transport_would_refuse_first_is_not_a_valid_setting() -> None:
    assert Settings().max_frame_bytes < MAX_MESSAGE_BYTES
    with pytest.raises(SettingsError, match="INFLUENCERS_MAX_FRAME_BYTES"):
        Settings(max_frame_bytes=MAX_MESSAGE_BYTES)


# What the stubs let through and a Duration may not be: negative, mixed signs, nanos past a second, past its range.
@pytest.mark.parametrize(("field", "value"), [
    ("timestamp", Duration(seconds=-1)), ("timestamp", Duration(nanos=-5)),
    ("timestamp", Duration(seconds=1, nanos=1_000_000_000)), ("span", Duration(seconds=-1, nanos=-500_000_000)),
    ("span", Duration(seconds=315_576_000_001))])
def test_a_frame_time_that_is_not_a_valid_non_negative_duration_is_refused_and_nothing_is_stored(
        identity, field: str, value: Duration) -> None:
    video_id = "00000000000000ee"
    error = refusal(identity.AnalyzeVideo, iter([frame(0, jpeg(), video_id), frame(1, jpeg(), video_id,
                                                                                  **{field: value})]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"frame 1 of the stream (index 1): {field}" in error.details()
    listed = identity.ListVideoIds(identity_pb2.ListVideoIdsRequest(), timeout=30).video_ids
    assert video_id not in listed


@pytest.mark.parametrize("indexes", [(0, 1, 1), (0, 5, 3)])
def test_a_frame_repeated_or_out_of_order_is_refused_naming_it_and_nothing_is_stored(identity, indexes) -> None:
    # A frame sent twice was counted twice: three copies of one frame at 0 s gave a person 3 s on screen in a
    # video of 1 s.
    video_id = "00000000000000ed"
    error = refusal(identity.AnalyzeVideo, iter([frame(i, jpeg(), video_id) for i in indexes]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (f"frame 2 of the stream (index {indexes[2]}): the index does not follow the previous frame's "
            f"({indexes[1]}): frames come in order, each once") in error.details(), error.details()
    assert video_id not in identity.ListVideoIds(identity_pb2.ListVideoIdsRequest(), timeout=30).video_ids


def test_a_frame_that_is_no_image_is_refused_as_it_arrives_naming_it(identity) -> None:
    endless = itertools.chain([frame(0, jpeg()), frame(1, b"not an image")],
                              (frame(i, jpeg()) for i in itertools.count(2)))
    error = refusal(identity.AnalyzeVideo, endless)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "frame 1: image is not a JPEG or PNG" in error.details()


def test_a_stream_within_every_limit_is_analysed(identity) -> None:
    reply = identity.AnalyzeVideo(iter([frame(0, jpeg()), frame(1, jpeg())]), timeout=120)
    assert reply.frames == 2 and list(reply.appearances) == []


# ---- 2. no error echoes kilobytes back ----------------------------------------------------------------

def identity_calls(stub: identity_pb2_grpc.IdentityServiceStub) -> list:  # type: ignore[type-arg]
    return [
        (stub.GetInfluencer, identity_pb2.GetInfluencerRequest(influencer_id=HUGE)),
        (stub.MergeInfluencers, identity_pb2.MergeInfluencersRequest(influencer_ids=[INFLUENCERS[0], HUGE])),
        (stub.SplitInfluencer, identity_pb2.SplitInfluencerRequest(influencer_id=HUGE, video_ids=[SEEDED[0]])),
        (stub.SplitInfluencer, identity_pb2.SplitInfluencerRequest(influencer_id=INFLUENCERS[0], video_ids=[HUGE])),
        (stub.RenameInfluencer, identity_pb2.RenameInfluencerRequest(influencer_id=HUGE, name="x")),
        (stub.ForgetVideo, identity_pb2.ForgetVideoRequest(video_id=HUGE)),
        (stub.CopyVideo, identity_pb2.CopyVideoRequest(video_id=HUGE, source_video_id=SEEDED[0])),
        (stub.CopyVideo, identity_pb2.CopyVideoRequest(video_id=SEEDED[0], source_video_id=HUGE)),
        (stub.GetFaceCrop, identity_pb2.GetFaceCropRequest(face_ref=HUGE)),
        (stub.ListVideoIds, identity_pb2.ListVideoIdsRequest(page_token=HUGE)),
        (stub.ListInfluencers, identity_pb2.ListInfluencersRequest(page_token=HUGE)),
    ]


@pytest.mark.parametrize("video_id", ["", "\x00", "0000000000000001\x00", "../../etc/passwd", "a b", "v\n1",
                                      "ü" * 16, "x" * 65, HUGE])
def test_forget_video_refuses_what_is_no_video_id_naming_the_field_and_forgets_nothing(identity, video_id) -> None:
    error = refusal(identity.ForgetVideo, identity_pb2.ForgetVideoRequest(video_id=video_id))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error.details().startswith("video_id ") and "is not a valid id" in error.details(), error.details()
    assert len(error.details()) < MAX_DETAILS
    assert sorted(identity.ListVideoIds(identity_pb2.ListVideoIdsRequest(), timeout=30).video_ids) == SEEDED


def test_forget_video_of_a_well_formed_id_never_stored_removes_nothing(identity) -> None:
    reply = identity.ForgetVideo(identity_pb2.ForgetVideoRequest(video_id="00000000000000dd"), timeout=30)
    assert reply.faces_removed == 0


def test_a_copy_of_a_video_with_no_faces_stored_is_not_found(identity) -> None:
    error = refusal(identity.CopyVideo, identity_pb2.CopyVideoRequest(video_id="ab" * 8, source_video_id="cd" * 8))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "analyse the video instead" in error.details()


def test_a_copy_of_a_video_onto_itself_is_refused_as_such_and_its_faces_stay(identity) -> None:
    # Was NOT_FOUND "video ... has no faces stored: analyse the video instead", of a video that has them.
    error = refusal(identity.CopyVideo, identity_pb2.CopyVideoRequest(video_id=SEEDED[0], source_video_id=SEEDED[0]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (f"video_id and source_video_id are one video ({SEEDED[0]}): a video is no repost of "
                               "itself")
    found = identity.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=INFLUENCERS[0]), timeout=30)
    assert list(found.influencer.video_ids) == [SEEDED[0]]


def test_identity_refuses_an_id_of_ten_kilobytes_without_echoing_it(identity) -> None:
    for call, request in identity_calls(identity):
        error = refusal(call, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (call, error.details())
        assert len(error.details()) < MAX_DETAILS and "(10000 chars)" in error.details(), error.details()



def test_a_name_of_megabytes_is_refused_at_once_and_nothing_is_renamed(identity) -> None:
    # A 31 MB name (gRPC carries 32 MiB) was cleaned character by character before its length was checked: the
    # rename held a server thread and the GIL past its caller's 20 s deadline; "Ann" and 10 million zero-width
    # spaces would have been kept as "Ann", its whole as given in the journal.
    for name in ("n" * 31_000_000, "Ann" + "\u200b" * 10_000_000):
        started = time.monotonic()
        error = refusal(identity.RenameInfluencer, identity_pb2.RenameInfluencerRequest(
            influencer_id=INFLUENCERS[0], name=name))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "is longer than 200 characters" in error.details() and len(error.details()) <= MAX_DETAILS
        assert time.monotonic() - started < 5
    found = identity.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=INFLUENCERS[0]), timeout=30)
    assert found.influencer.name == ""


def test_an_enrolment_under_a_name_no_one_may_have_is_refused_before_its_photos_are_read(identity) -> None:
    # Its name was checked under the writer's lock, after every photo had been decoded and searched for a face.
    for name, said in (("\u202e\u200b", "no visible characters"), ("n" * 31_000_000, "longer than 200 characters"),
                       ("inf_0123456789", "form of an influencer id")):
        error = refusal(identity.EnrolInfluencer, identity_pb2.EnrolInfluencerRequest(
            name=name, photos=[b"no image"]))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()

def test_analytics_and_ingest_refuse_kilobytes_of_input_without_echoing_them(analytics, ingest) -> None:
    stub, _ = analytics
    calls = [
        (stub.GetVideo, analytics_pb2.GetVideoRequest(url=HUGE), grpc.StatusCode.NOT_FOUND),
        (stub.GetVideo, analytics_pb2.GetVideoRequest(video_id=HUGE), grpc.StatusCode.INVALID_ARGUMENT),
        (stub.UpdatePerformance, analytics_pb2.UpdatePerformanceRequest(location=HUGE, performance=1.0),
         grpc.StatusCode.NOT_FOUND),
        (stub.ListVideos, analytics_pb2.ListVideosRequest(page_token=HUGE), grpc.StatusCode.INVALID_ARGUMENT),
        (stub.RecordVideo, analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
            url=HUGE, video_id="zz", status=common_pb2.VIDEO_STATUS_DONE)), grpc.StatusCode.INVALID_ARGUMENT),
        (ingest.GetJob, ingest_pb2.GetJobRequest(job_id=HUGE), grpc.StatusCode.NOT_FOUND),
        (ingest.CancelJob, ingest_pb2.CancelJobRequest(job_id=HUGE), grpc.StatusCode.NOT_FOUND),
    ]
    for call, request, code in calls:
        error = refusal(call, request)
        assert error.code() == code, (request, error.details())
        assert len(error.details()) < MAX_DETAILS, error.details()


def test_an_input_is_shown_whole_when_short_and_cut_with_its_length_when_long() -> None:
    assert shown("abc") == "'abc'"
    assert shown(HUGE) == f"'{'x' * 80}'… (10000 chars)"


# ---- 3. page tokens the server did not make -----------------------------------------------------------

@pytest.mark.parametrize("token", ["zzz", "inf_", "inf_0123", "INF_00000000A1", "' OR 1=1 --"])
def test_list_influencers_refuses_a_page_token_that_is_not_an_influencer_id(identity, token: str) -> None:
    error = refusal(identity.ListInfluencers, identity_pb2.ListInfluencersRequest(page_token=token))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in error.details()


def test_list_influencers_pages_through_every_influencer_with_its_own_tokens(identity) -> None:
    seen, token = [], ""
    while True:
        reply = identity.ListInfluencers(identity_pb2.ListInfluencersRequest(page_size=1, page_token=token),
                                         timeout=30)
        seen += [i.influencer_id for i in reply.influencers]
        token = reply.next_page_token
        if not token:
            break
    assert seen == INFLUENCERS


@pytest.mark.parametrize("token", ["zzz", "123", "{00000000-0000-0000-0000-000000000001}",
                                   "00000000000000000000000000000001"])
def test_list_video_ids_refuses_a_page_token_that_is_not_a_point_id_without_the_engines_words(
        identity, token: str) -> None:
    error = refusal(identity.ListVideoIds, identity_pb2.ListVideoIdsRequest(page_token=token))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in error.details()
    assert "UUID" not in error.details() and "parse" not in error.details()


def test_list_video_ids_pages_through_every_video_with_its_own_tokens(identity) -> None:
    seen, token = [], ""
    while True:
        reply = identity.ListVideoIds(identity_pb2.ListVideoIdsRequest(page_size=1, page_token=token), timeout=30)
        seen += list(reply.video_ids)
        token = reply.next_page_token
        if not token:
            break
    assert sorted(seen) == SEEDED


def test_page_tokens_are_checked_by_shape_before_any_store_sees_them() -> None:
    assert key_token("", INFLUENCER_ID) == "" and point_token("") == ""
    assert point_token("5b1d6c2e-8f0a-4f7e-9c1d-2a3b4c5d6e7f") == "5b1d6c2e-8f0a-4f7e-9c1d-2a3b4c5d6e7f"
    with pytest.raises(ValueError):
        point_token("5B1D6C2E-8F0A-4F7E-9C1D-2A3B4C5D6E7F")


# ---- 4. internals stay inside -------------------------------------------------------------------------

def test_bytes_that_are_not_an_image_are_refused_in_plain_words(identity) -> None:
    for error in (refusal(identity.EnrolInfluencer, identity_pb2.EnrolInfluencerRequest(name="x", photos=[b"garbage"])),
                  refusal(identity.AnalyzeVideo, iter([frame(0, b"garbage")]))):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "image is not a JPEG or PNG" in error.details()
        assert "BytesIO" not in error.details() and "0x" not in error.details(), error.details()


def test_a_malformed_influencer_id_is_an_invalid_argument_and_an_unknown_one_is_not_found(identity) -> None:
    for bad in ("", "nobody", "inf_zz"):
        assert refusal(identity.GetInfluencer, identity_pb2.GetInfluencerRequest(influencer_id=bad)).code() \
            == grpc.StatusCode.INVALID_ARGUMENT
    unknown = refusal(identity.RenameInfluencer, identity_pb2.RenameInfluencerRequest(
        influencer_id="inf_00000000ff", name="x"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and unknown.details() == "no influencer 'inf_00000000ff'"
    found = identity.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=INFLUENCERS[0]),
                                   timeout=30).influencer
    assert found.influencer_id == INFLUENCERS[0] and found.representative_face == b""


def test_a_merge_of_more_influencers_than_the_cap_is_refused_before_any_lookup_and_repeats_count_once(
        identity) -> None:
    many = [f"inf_{k:010x}" for k in range(1001)]
    over = refusal(identity.MergeInfluencers, identity_pb2.MergeInfluencersRequest(influencer_ids=many))
    assert over.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert over.details() == "1001 influencers: one merge takes at most 1000"
    same = refusal(identity.MergeInfluencers, identity_pb2.MergeInfluencersRequest(
        influencer_ids=[INFLUENCERS[0]] * 50_000))
    assert same.code() == grpc.StatusCode.INVALID_ARGUMENT and "at least two different" in same.details()


def test_a_split_of_more_videos_than_the_cap_is_refused_naming_the_field_and_repeats_count_once(identity) -> None:
    # Was no cap: any number of video ids was checked one by one and kept whole in the journal under the lock
    from services.identity.server import MAX_SPLIT

    many = [f"{k:016x}" for k in range(MAX_SPLIT + 1)]
    over = refusal(identity.SplitInfluencer, identity_pb2.SplitInfluencerRequest(
        influencer_id=INFLUENCERS[0], video_ids=many))
    assert over.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert over.details() == "video_ids: 10,001 videos: one split takes at most 10,000"
    same = refusal(identity.SplitInfluencer, identity_pb2.SplitInfluencerRequest(
        influencer_id=INFLUENCERS[0], video_ids=["00000000000fffff"] * 50_000))
    assert same.code() == grpc.StatusCode.NOT_FOUND and "has no faces in the videos given" in same.details()


@pytest.fixture
def guarded() -> Iterator[grpc.Channel]:
    """A server of ours (build_server) with a service whose handlers fail as a bug would: raw bytes in and out."""

    def fail(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise RuntimeError("failed to parse /srv/secret/db as <_io.BytesIO object at 0x7f00>")

    def fail_later(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield b"first"
        raise KeyError("/srv/secret/db")

    def database_full(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise sa.exc.OperationalError("INSERT INTO videos", {}, sqlite3.OperationalError("database or disk is full"))

    def locked_writing_disk_full_mp4(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise sa.exc.OperationalError("INSERT INTO videos (url) VALUES (?)", ("https://cdn/disk full.mp4",),
                                      sqlite3.OperationalError("database is locked"))

    def damaged(request: bytes, context: grpc.ServicerContext) -> bytes:
        raise StoreDamaged("face store DATA/qdrant/edge/faces cannot be read (...); restore DATA/qdrant/edge from a "
                           "backup, or remove it and ingest again")

    def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        raise AssertionError("abort returns never")

    def register(server: grpc.Server) -> str:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Guarded", {
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "FailLater": grpc.unary_stream_rpc_method_handler(fail_later),
            "Refuse": grpc.unary_unary_rpc_method_handler(refuse),
            "DatabaseFull": grpc.unary_unary_rpc_method_handler(database_full),
            "Damaged": grpc.unary_unary_rpc_method_handler(damaged),
            "LockedWritingDiskFullMp4": grpc.unary_unary_rpc_method_handler(locked_writing_disk_full_mp4)}),))
        return "test.Guarded"

    running = build_server("guarded", "127.0.0.1", 0, [register])
    channel = open_channel(f"127.0.0.1:{running.port}")
    yield channel
    channel.close()
    running.stop(grace_s=0.5)


def test_an_unexpected_exception_is_an_internal_error_that_shows_nothing_of_it(guarded: grpc.Channel) -> None:
    error = refusal(guarded.unary_unary("/test.Guarded/Fail"), b"x")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error (the service's log has the details)"
    replies = guarded.unary_stream("/test.Guarded/FailLater")(b"x", timeout=30)
    assert next(replies) == b"first"
    with pytest.raises(grpc.RpcError) as caught:
        next(replies)
    assert caught.value.code() == grpc.StatusCode.INTERNAL and "secret" not in caught.value.details()


def test_a_database_write_on_a_full_disk_is_resource_exhausted_saying_disk_full(guarded: grpc.Channel) -> None:
    # Found with the data dir's disk full during a run: analytics' RecordVideo met SQLite's "database or disk
    # is full" and answered INTERNAL, so the row said "not recorded: INTERNAL: internal error in RecordVideo".
    error = refusal(guarded.unary_unary("/test.Guarded/DatabaseFull"), b"x")
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == ("disk full: DatabaseFull could not write (database or disk is full); free some space "
                               "and run again")



def test_a_full_disk_refusal_names_the_call_once_in_the_callers_line_and_the_servers_log(
        guarded: grpc.Channel, caplog: pytest.LogCaptureFixture) -> None:
    # Before: "test.Guarded.DatabaseFull failed: RESOURCE_EXHAUSTED disk full: DatabaseFull could not write (...)" in
    # the caller's log (ingest's "not recorded: analytics.RecordVideo failed: ... disk full: RecordVideo could not
    # write"), and "/test.Guarded/DatabaseFull refused: disk full: DatabaseFull could not write" in the server's
    with caplog.at_level(logging.WARNING):
        error = refusal(guarded.unary_unary("/test.Guarded/DatabaseFull"), b"x")
    assert failed_call(error) == ("test.Guarded.DatabaseFull failed: RESOURCE_EXHAUSTED disk full: could not write "
                                  "(database or disk is full); free some space and run again")
    (logged,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert logged.count("DatabaseFull") == 1, logged


def test_a_database_error_whose_statement_parameters_say_disk_full_is_no_full_disk(guarded: grpc.Channel) -> None:
    # Before, the full-disk test read the whole SQLAlchemy error, parameters included: a write of the URL
    # '.../disk full.mp4' meeting 'database is locked' answered RESOURCE_EXHAUSTED 'disk full: ...', and ingest,
    # reading 'disk full' in the row's error, cancelled the whole job. Only the database's own words count.
    error = refusal(guarded.unary_unary("/test.Guarded/LockedWritingDiskFullMp4"), b"x")
    assert error.code() == grpc.StatusCode.INTERNAL and "disk full" not in error.details()


def test_a_damaged_store_met_by_a_call_is_data_loss_naming_the_file_and_what_to_do(guarded: grpc.Channel) -> None:
    # A face store page that no longer decoded failed each video's match as "internal error in AnalyzeVideo
    # (the service's log has the details)": the row named neither the store nor what to do.
    error = refusal(guarded.unary_unary("/test.Guarded/Damaged"), b"x")
    assert error.code() == grpc.StatusCode.DATA_LOSS
    assert error.details() == ("face store DATA/qdrant/edge/faces cannot be read (...); restore DATA/qdrant/edge "
                               "from a backup, or remove it and ingest again")


def test_a_refusal_of_the_servicer_itself_passes_the_guard_unchanged(guarded: grpc.Channel) -> None:
    error = refusal(guarded.unary_unary("/test.Guarded/Refuse"), b"x")
    assert error.code() == grpc.StatusCode.NOT_FOUND and error.details() == "no such thing"


BAD_UTF8 = b"\xed\xa0\x80"  # a lone surrogate (U+D800) as a careless encoder writes it: no UTF-8


def field(number: int, value: bytes) -> bytes:
    """One length-delimited protobuf field, as a caller of another language may write it."""
    return bytes([number << 3 | 2, len(value)]) + value


@pytest.mark.parametrize(("method", "request_bytes", "said"), [
    ("GetVideo", field(1, BAD_UTF8), "no valid GetVideoRequest (String field had bad UTF-8)"),
    ("ListVideos", field(3, b"p1:" + BAD_UTF8), "no valid ListVideosRequest (String field had bad UTF-8)"),
    ("GetVideo", b"\xff\xff\xff", "no valid GetVideoRequest (Wire format was corrupt)"),
])
def test_a_request_whose_bytes_are_no_message_of_its_method_is_invalid_argument_not_internal(
        analytics, method: str, request_bytes: bytes, said: str) -> None:
    # gRPC Python parses a request before any of our code runs, and answered these INTERNAL "Exception
    # deserializing request!": the caller's bytes read as the server's fault.
    channel = open_channel(f"127.0.0.1:{analytics[1]}")
    try:
        error = refusal(channel.unary_unary(f"/influencers.v1.AnalyticsService/{method}"), request_bytes)
    finally:
        channel.close()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()


def test_a_streamed_request_whose_bytes_are_no_message_is_invalid_argument_naming_its_type() -> None:
    seen: list[str] = []

    def count(requests: Iterator[identity_pb2.AnalyzeVideoRequest], context: grpc.ServicerContext) -> bytes:
        seen.extend(r.video_id for r in requests)
        return b""

    def register(server: grpc.Server) -> str:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Frames", {
            "Count": grpc.stream_unary_rpc_method_handler(
                count, request_deserializer=identity_pb2.AnalyzeVideoRequest.FromString)}),))
        return "test.Frames"

    running = build_server("frames", "127.0.0.1", 0, [register])
    channel = open_channel(f"127.0.0.1:{running.port}")
    try:
        error = refusal(channel.stream_unary("/test.Frames/Count"), iter([field(1, b"a1"), field(1, BAD_UTF8)]))
    finally:
        channel.close()
        running.stop(grace_s=0.5)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no valid AnalyzeVideoRequest (String field had bad UTF-8)" in error.details(), error.details()
    assert seen == ["a1"]  # the servicer had the good message, and its loop ended at the bad one


# ---- 5. enum values that do not exist -----------------------------------------------------------------

def test_a_content_id_in_capitals_is_refused_saying_ids_are_lowercase(analytics) -> None:
    # Was "video_id '00000000000000A1' is not 16 hex digits", which it is.
    stub, _ = analytics
    for call, request in ((stub.GetVideo, analytics_pb2.GetVideoRequest(video_id="00000000000000A1")),
                          (stub.RecordVideo, analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
                              url="https://cdn.example/A1.mp4", video_id="00000000000000A1",
                              status=common_pb2.VIDEO_STATUS_DONE, performance=1.0)))):
        error = refusal(call, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "video_id '00000000000000A1' is not 16 lowercase hex digits" in error.details(), error.details()


def test_list_videos_refuses_a_status_that_does_not_exist(analytics) -> None:
    stub, _ = analytics
    error = refusal(stub.ListVideos, analytics_pb2.ListVideosRequest(statuses=[common_pb2.VIDEO_STATUS_DONE, -1]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "-1 is not a VideoStatus" in error.details()
    assert stub.ListVideos(analytics_pb2.ListVideosRequest(statuses=[common_pb2.VIDEO_STATUS_DONE]),
                           timeout=30).videos == []



def test_list_videos_of_a_status_repeated_a_million_times_lists_them_as_if_given_once(analytics) -> None:
    # One bound parameter a repeat took SQLite past its limit of variables: INTERNAL, "too many SQL variables".
    stub, _ = analytics
    stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
        url="https://cdn.example/many.mp4", status=common_pb2.VIDEO_STATUS_FAILED, error="gone")), timeout=30)
    repeated = [common_pb2.VIDEO_STATUS_FAILED, common_pb2.VIDEO_STATUS_DONE] * 500_000
    listed = stub.ListVideos(analytics_pb2.ListVideosRequest(statuses=repeated), timeout=60).videos
    once = stub.ListVideos(analytics_pb2.ListVideosRequest(statuses=repeated[:2]), timeout=30).videos
    assert "https://cdn.example/many.mp4" in [v.url for v in listed]
    assert listed == once


def test_list_videos_pages_rows_of_the_longest_texts_within_the_message_limit_and_lists_each_once(tmp_path) -> None:
    # 120 rows of a 199,000-character url and a 99,000-character error were a first page over gRPC's 32 MiB:
    # RESOURCE_EXHAUSTED "Sent message larger than max", and no token to go past it.
    store = AnalyticsStore(tmp_path / "analytics.sqlite")
    running = serve_analytics(Settings(data_dir=tmp_path, analytics_port=0), store)
    channel = open_channel(f"127.0.0.1:{running.port}")
    try:
        stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        urls = [f"https://cdn.example/{k:03d}/" + "u" * 199_000 for k in range(120)]
        for url in urls:
            stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
                url=url, status=common_pb2.VIDEO_STATUS_FAILED, error="e" * 99_000)), timeout=60)
        listed, token, pages = [], "", 0
        while True:
            reply = stub.ListVideos(analytics_pb2.ListVideosRequest(page_token=token), timeout=60)
            assert reply.ByteSize() < MAX_MESSAGE_BYTES
            listed += [v.url for v in reply.videos]
            pages += 1
            if not (token := reply.next_page_token):
                break
        assert listed == urls and pages > 1
    finally:
        channel.close()
        running.stop(grace_s=0.5)
        store.close()


def test_list_changes_pages_entries_of_a_megabyte_within_the_message_limit_and_a_follower_reads_each_once(
        tmp_path) -> None:
    # A follower's page of 100 entries near a megabyte each (an entry holds up to 200 videos) was over gRPC's 32 MiB:
    # RESOURCE_EXHAUSTED on every read, and analytics stuck behind that position for good.
    process = IdentityProcess(Settings(data_dir=tmp_path, identity_port=0, workers=1))
    channel = open_channel(f"127.0.0.1:{process.port}")
    try:
        wait_healthy(channel, timeout_s=60)
        big = [identity_pb2.Change(forgotten_video_ids=[f"{k:04x}{n:012x}" for n in range(60_000)]) for k in range(40)]
        positions = process.feed.append(big)
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        read, after = [], 0
        while after < positions[-1]:
            reply = stub.ListChanges(identity_pb2.ListChangesRequest(after_position=after, page_size=100), timeout=60)
            assert reply.changes and reply.ByteSize() < MAX_MESSAGE_BYTES
            read += [c.position for c in reply.changes]
            after = reply.changes[-1].position
        assert read == positions
    finally:
        channel.close()
        process.stop(grace_s=1)

def test_record_video_refuses_a_status_that_does_not_exist(analytics) -> None:
    stub, _ = analytics
    error = refusal(stub.RecordVideo, analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
        url="https://x/a.mp4", video_id="00000000000000aa", status=99)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "99 is not a VideoStatus" in error.details()


# ---- 6. text no database keeps --------------------------------------------------------------------------

@pytest.mark.parametrize(("request_", "said"), [
    (ingest_pb2.StartIngestRequest(base_dir="/videos/\x00", videos=[ingest_pb2.VideoSubmission(url="a.mp4")]),
     "base_dir holds a NUL character"),
    (ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url="a.mp4", line=2),
                                           ingest_pb2.VideoSubmission(url="clip\x00.mp4", line=3)]),
     "line 3: url holds a NUL character"),
    (ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url="a.mp4", external_id="post\x00")]),
     "row 1 of this submission: external_id holds a NUL character"),
    (ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url="a.mp4", row_error="bad\x00")]),
     "row 1 of this submission: row_error holds a NUL character"),
])
def test_start_ingest_refuses_a_nul_character_naming_the_row_and_field_and_starts_no_job(ingest, request_, said
                                                                                          ) -> None:
    # PostgreSQL keeps no NUL in any text: a base_dir with one was INTERNAL, and a row's URL with one could never
    # be recorded ("not recorded: INTERNAL").
    before = len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs)
    error = refusal(ingest.StartIngest, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()
    assert len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs) == before


@pytest.mark.parametrize(("request_", "said"), [
    (ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url="a.mp4", line=2),
                                           ingest_pb2.VideoSubmission(url="b" * 100_001 + ".mp4", line=3)]),
     "line 3: url is longer than 100,000 characters"),
    (ingest_pb2.StartIngestRequest(videos=[ingest_pb2.VideoSubmission(url="a.mp4", external_id="x" * 1_000_000)]),
     "row 1 of this submission: external_id is longer than 100,000 characters"),
    (ingest_pb2.StartIngestRequest(base_dir="/" + "d" * 100_000, videos=[ingest_pb2.VideoSubmission(url="a.mp4")]),
     "base_dir is longer than 100,000 characters"),
])
def test_start_ingest_refuses_a_text_longer_than_a_manifest_cell_may_be_and_starts_no_job(ingest, request_, said
                                                                                          ) -> None:
    # A manifest with such a cell is refused whole; the same rows sent over gRPC were queued and stored as given.
    before = len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs)
    error = refusal(ingest.StartIngest, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()
    assert len(error.details()) < MAX_DETAILS
    assert len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs) == before



def test_a_job_call_without_a_job_id_or_with_a_negative_skip_is_refused_naming_the_field(ingest) -> None:
    # Was NOT_FOUND "no job ''", and a skip of -1 read as 0 (the whole progress replayed, unsaid).
    watch = lambda r, timeout: list(ingest.WatchJob(r, timeout=timeout))  # noqa: E731 - a stream read whole
    for call, request in ((ingest.GetJob, ingest_pb2.GetJobRequest()),
                          (ingest.CancelJob, ingest_pb2.CancelJobRequest()), (watch, ingest_pb2.WatchJobRequest())):
        error = refusal(call, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().startswith("job_id is empty")
    job = ingest.StartIngest(ingest_pb2.StartIngestRequest(base_dir="/videos", videos=[
        ingest_pb2.VideoSubmission(url="gone.mp4", performance=1.0)]), timeout=30).job
    error = refusal(watch, ingest_pb2.WatchJobRequest(job_id=job.job_id, skip=-1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "skip -1 is negative"

def test_start_ingest_refuses_two_rows_giving_one_line_of_one_manifest_and_starts_no_job(ingest) -> None:
    # Rows failing before they name a file are recorded under their manifest's line: the second replaced the
    # first's record, and a row went missing from videos.csv and the page. Lines of two manifests, and 0s, are apart.
    before = len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs)
    error = refusal(ingest.StartIngest, ingest_pb2.StartIngestRequest(base_dir="/videos", videos=[
        ingest_pb2.VideoSubmission(url="", row_error="line 3: video URL is missing", line=3, manifest="m.csv"),
        ingest_pb2.VideoSubmission(url="a.mp4", line=3, manifest="n.csv"),
        ingest_pb2.VideoSubmission(url="b.mp4"), ingest_pb2.VideoSubmission(url="c.mp4"),
        ingest_pb2.VideoSubmission(url="", row_error="line 3: video URL is missing", line=3, manifest="m.csv")]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == ("rows 1 and 5 of this submission both give line 3 of 'm.csv': each row has a line of "
                               "its own in its file (or 0)")
    assert len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs) == before


@pytest.mark.parametrize("request_", [ingest_pb2.StartIngestRequest(),
                                      ingest_pb2.StartIngestRequest(base_dir="/videos")])
def test_start_ingest_with_no_videos_is_refused_saying_so_and_starts_no_job(ingest, request_) -> None:
    # Before, an empty request was queued as a job of 0 videos (the CLI refuses an empty manifest itself).
    before = len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs)
    error = refusal(ingest.StartIngest, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "the request holds no videos" in error.details(), error.details()
    assert len(ingest.ListJobs(ingest_pb2.ListJobsRequest(), timeout=30).jobs) == before


# ---- 7. batch markers ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "request_", "said"), [
    ("OpenBatch", identity_pb2.OpenBatchRequest(batch="b1", worker=""), "worker '' is not a name"),
    ("OpenBatch", identity_pb2.OpenBatchRequest(batch="b1", worker="ingest-0\nERROR forged"),
     r"worker 'ingest-0\nERROR forged' is not a name"),
    ("OpenBatch", identity_pb2.OpenBatchRequest(batch="b1", worker="w" * 1_000_000), "(1000000 chars) is not a name"),
    ("OpenBatch", identity_pb2.OpenBatchRequest(batch="b" * 1_000_000, worker="ingest-0"),
     "(1000000 chars) is not a name"),
    ("CloseBatch", identity_pb2.CloseBatchRequest(worker="w" * 1_000_000), "(1000000 chars) is not a name"),
])
def test_a_batch_marker_whose_worker_or_batch_is_no_short_printable_name_is_refused_and_not_stored(
        identity, call: str, request_, said: str) -> None:
    # Each was stored as given in identity's side records: a megabyte a call, under as many keys as a caller
    # cared to send.
    error = refusal(getattr(identity, call), request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()
    assert len(error.details()) < MAX_DETAILS
    assert not identity.OpenBatch(identity_pb2.OpenBatchRequest(batch="b2", worker="ingest-7"),
                                  timeout=30).previous_interrupted
    assert identity.OpenBatch(identity_pb2.OpenBatchRequest(batch="b3", worker="ingest-7"),
                              timeout=30).previous_interrupted
    identity.CloseBatch(identity_pb2.CloseBatchRequest(worker="ingest-7"), timeout=30)
