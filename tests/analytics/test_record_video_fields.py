"""What a careless or hostile caller of analytics' gRPC may put in a row's fields, called for real on both
engines: each value that no video has, or that the store cannot keep, is INVALID_ARGUMENT naming the field, and
nothing is stored. Before, both kept a row without a status, a negative length, a length past a Duration's range
or a negative face count as given; SQLite kept a NUL character, which PostgreSQL answered with INTERNAL."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from influencers.v1 import analytics_pb2, common_pb2
from services.analytics.records import MAX_REPEATS, MAX_TOTAL_REPEATS
from services.analytics.store import AnalyticsStore
from services.common.location_key import MAX_KEY_BYTES, location_key
from services.common.row_keys import manifest_row_key
from services.common.url_secrets import secrets_digested, secrets_hidden
from tests.support.rpc_errors import refusal

URL = "https://cdn.example.com/a.mp4"
VIDEO_ID = "00000000000000aa"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> Iterator[AnalyticsStore]:
    """Both engines; conftest's `stub` serves whichever this gives."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else tmp_path / "a.sqlite"
    opened = AnalyticsStore(url)
    yield opened
    opened.close()


def done(**fields: object) -> analytics_pb2.RecordVideoRequest:
    values = {"url": URL, "video_id": VIDEO_ID, "status": common_pb2.VIDEO_STATUS_DONE, "performance": 1.0, **fields}
    return analytics_pb2.RecordVideoRequest(video=common_pb2.Video(**values))


@pytest.mark.parametrize(("fields", "said"), [
    ({"url": "https://cdn.example.com/a\x00.mp4"}, "video.url holds a NUL character"),
    ({"location": "/videos/a\x00.mp4"}, "video.location holds a NUL character"),
    ({"error": "warning: \x00"}, "video.error holds a NUL character"),
    ({"external_id": "post\x001"}, "video.external_id holds a NUL character"),
    ({"duration": Duration(seconds=-5)}, "video.duration (-5 s, 0 ns) is not a valid duration of at least 0"),
    ({"duration": Duration(seconds=1, nanos=-5)}, "video.duration (1 s, -5 ns) is not a valid duration"),
    ({"duration": Duration(seconds=10**15)}, "video.duration (1000000000000000 s, 0 ns) is not a valid duration"),
    ({"start": Duration(seconds=1, nanos=-5)}, "video.start (1 s, -5 ns) is not a valid duration of at least 0"),
    ({"start": Duration(nanos=2_000_000_000)}, "video.start (0 s, 2000000000 ns) is not a valid duration"),
    ({"faces": -7}, "video.faces -7 is negative"),
    ({"status": common_pb2.VIDEO_STATUS_UNSPECIFIED}, "video.status is unset (VIDEO_STATUS_UNSPECIFIED)"),
])
def test_a_row_field_no_video_can_have_is_refused_naming_it_and_nothing_is_stored(stub, fields, said) -> None:
    error = refusal(stub.RecordVideo, done(**fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()
    assert stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos == []


def test_a_nul_in_a_lookup_key_is_refused_naming_the_field(stub) -> None:
    calls = [
        (stub.GetVideo, analytics_pb2.GetVideoRequest(url="a\x00b"), "url holds a NUL character"),
        (stub.GetVideo, analytics_pb2.GetVideoRequest(location="a\x00b"), "location holds a NUL character"),
        (stub.UpdatePerformance, analytics_pb2.UpdatePerformanceRequest(url="a\x00b", performance=1.0),
         "url holds a NUL character"),
        (stub.UpdatePerformance, analytics_pb2.UpdatePerformanceRequest(location="a\x00b", performance=1.0),
         "location holds a NUL character"),
    ]
    for call, request, said in calls:
        error = refusal(call, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()


def test_a_row_at_the_edges_of_what_is_valid_is_recorded_as_given(stub) -> None:
    longest = Duration(seconds=315_576_000_000, nanos=999_999_999)
    assert stub.RecordVideo(done(duration=longest, faces=0), timeout=30).created
    assert stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
        url="https://cdn.example.com/b.mp4", status=common_pb2.VIDEO_STATUS_FAILED, error="no such file")),
        timeout=30).created
    assert [v.url for v in stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos] == [
        URL, "https://cdn.example.com/b.mp4"]


def test_an_error_text_over_the_text_cap_is_kept_cut_with_a_marker_and_the_row_is_recorded(stub) -> None:
    # A failed row's error had no cap: a caller could store a megabyte a row (the page and videos.csv then
    # carried it). Refusing the row would lose the video's record, so the text is cut, saying so.
    failed = common_pb2.VIDEO_STATUS_FAILED
    huge = "HTTP 404 " + "e" * 1_000_000
    exact = "x" * 100_000
    for url, error in ((URL, huge), ("https://cdn.example.com/c.mp4", exact)):
        assert stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
            url=url, status=failed, error=error)), timeout=30).created
    kept = stub.GetVideo(analytics_pb2.GetVideoRequest(url=URL), timeout=30).video.error
    assert len(kept) <= 100_000 and kept.startswith("HTTP 404 eee")
    assert kept.endswith("[cut to 100,000 characters of 1,000,009]"), kept[-80:]
    assert stub.GetVideo(analytics_pb2.GetVideoRequest(url="https://cdn.example.com/c.mp4"),
                         timeout=30).video.error == exact


def test_a_url_location_or_external_id_past_its_limit_is_refused_naming_the_field_and_limit(stub) -> None:
    # None had a cap: a caller could store 30 MB in one row (gRPC takes 32 MiB), which every page, export and
    # GetVideo then carried.
    for field, limit in (("url", 200_000), ("location", 1_000_000), ("external_id", 100_000)):
        error = refusal(stub.RecordVideo, done(**{field: "x" * (limit + 1)}))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert f"video.{field} is longer than {limit:,} characters ({limit + 1:,})" in error.details()
        assert len(error.details()) < 400
    assert stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos == []


def test_a_row_whose_texts_are_at_their_limits_is_recorded_whole_its_location_keyed_short(stub) -> None:
    # PostgreSQL's btree keeps no key past ~2,700 bytes: such a location (or a url, by its index) was INTERNAL
    # there and the row lost. The location is now keyed by its head and digest (location_key), on both engines.
    url, location, external_id = "u" * 200_000, "l" * 1_000_000, "e" * 100_000
    assert stub.RecordVideo(done(url=url, location=location, external_id=external_id), timeout=30).created
    kept = stub.GetVideo(analytics_pb2.GetVideoRequest(location=location), timeout=30).video
    assert (kept.url, kept.location, kept.external_id) == (url, location_key(location), external_id)
    assert len(kept.location.encode()) <= MAX_KEY_BYTES


def test_rows_of_long_random_links_and_paths_are_recorded_found_and_rescored_on_both_engines(stub) -> None:
    # Random characters do not compress: ~3,000 of them were past PostgreSQL's btree on every engine's key.
    rng = random.Random(5)
    tail = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(6_000))
    link = f"https://cdn.example.com/v.mp4?q={tail}"
    path = "/videos/" + "/".join(tail[k:k + 200] for k in range(0, 6_000, 200)) + "/\u00e9t\u00e9.mp4"
    for video_id, url, location in (("00000000000000b1", link, link), ("00000000000000b2", "b.mp4", path),
                                    ("00000000000000b3", link + "x", link + "x")):
        assert stub.RecordVideo(done(url=url, location=location, video_id=video_id), timeout=30).created
        found = stub.GetVideo(analytics_pb2.GetVideoRequest(location=location), timeout=30).video
        assert (found.video_id, found.url) == (video_id, url)
        assert stub.GetVideo(analytics_pb2.GetVideoRequest(url=url), timeout=30).video.video_id == video_id
        assert stub.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(location=location, performance=2.5),
                                      timeout=30).changed
    again = done(url=link, location=link, video_id="00000000000000b1", performance=2.5)
    assert not stub.RecordVideo(again, timeout=30).created, \
        "the same long link again is the same row"
    assert len(stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos) == 3


def test_the_longest_url_and_location_ingest_makes_of_a_manifest_cell_are_within_the_limits(stub) -> None:
    # A manifest cell holds at most 100,000 characters; ingest records it with its secrets hidden (url) and
    # digested (location), which makes a link of short secret parameters 1.4 and 8.6 times as long.
    cell = "https://cdn.example.com/v.mp4?" + "se=x&" * ((100_000 - 30) // 5)
    assert len(cell) <= 100_000
    url, location = secrets_hidden(cell), secrets_digested(cell)
    assert len(url) > 135_000 and len(location) > 850_000
    assert stub.RecordVideo(done(url=url, location=location), timeout=30).created
    # A local path: the manifest's folder (StartIngest's base_dir, 100,000 at most) and a relative cell.
    path = "/" + "d" * 99_999 + "/" + "f" * 100_000
    assert stub.RecordVideo(done(url="f" * 100_000, location=path, video_id="00000000000000bb"), timeout=30).created
    assert len(stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos) == 2


def test_a_lookup_key_past_its_limit_is_refused_naming_the_field(stub) -> None:
    calls = [
        (stub.GetVideo, analytics_pb2.GetVideoRequest(url="x" * 200_001), "url is longer than 200,000"),
        (stub.GetVideo, analytics_pb2.GetVideoRequest(location="x" * 1_000_001), "location is longer than 1,000,000"),
        (stub.UpdatePerformance, analytics_pb2.UpdatePerformanceRequest(url="x" * 200_001, performance=1.0),
         "url is longer than 200,000 characters"),
        (stub.UpdatePerformance, analytics_pb2.UpdatePerformanceRequest(location="x" * 1_000_001, performance=1.0),
         "location is longer than 1,000,000 characters"),
    ]
    for call, request, said in calls:
        error = refusal(call, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and said in error.details(), error.details()


def test_forget_manifest_rows_refuses_a_nul_naming_the_field_and_forgets_only_that_manifests_stale_rows(
        stub) -> None:
    for key in (manifest_row_key("/m_%", 2, 0, "a.csv"), manifest_row_key("/m_%", 3, 0, "a.csv"),
                manifest_row_key("/m_x", 2, 0, "a.csv"), manifest_row_key("/m_%", 2, 0, "b.csv")):
        stub.RecordVideo(analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
            location=key, status=common_pb2.VIDEO_STATUS_FAILED, error="video URL is missing")), timeout=30)
    bad = analytics_pb2.ForgetManifestRowsRequest(base_dir="/m_%", manifest="a\x00.csv")
    caught = refusal(stub.ForgetManifestRows, bad)
    assert caught.code() == grpc.StatusCode.INVALID_ARGUMENT and "manifest holds a NUL" in caught.details()
    kept = [manifest_row_key("/m_%", 3, 0, "a.csv")]
    request = analytics_pb2.ForgetManifestRowsRequest(base_dir="/m_%", manifest="a.csv", kept=kept)
    assert stub.ForgetManifestRows(request, timeout=30).forgotten == 1
    left = stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    assert sorted(v.location for v in left) == sorted([*kept, manifest_row_key("/m_x", 2, 0, "a.csv"),
                                                       manifest_row_key("/m_%", 2, 0, "b.csv")])


def test_repeats_past_the_stores_total_are_refused_naming_the_field_and_limit_and_recorded_rows_stay(stub) -> None:
    def failed(k: int, repeats: int) -> analytics_pb2.RecordVideoRequest:
        return analytics_pb2.RecordVideoRequest(video=common_pb2.Video(
            url=f"https://cdn.example.com/{k}.mp4", status=common_pb2.VIDEO_STATUS_FAILED, error="HTTP 404",
            repeats=repeats))

    for k in range(MAX_TOTAL_REPEATS // MAX_REPEATS):  # each row at the cap of one row: the whole budget
        assert stub.RecordVideo(failed(k, MAX_REPEATS), timeout=30).created
    over = refusal(stub.RecordVideo, failed(99, 1))
    assert over.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "repeats 1 would make the store's rows repeat 10,000,001 times in all, over the limit of 10,000,000" \
        in over.details(), over.details()
    again = stub.RecordVideo(failed(0, MAX_REPEATS), timeout=30)  # a row given as often again: no more rows
    assert not again.created
    assert stub.RecordVideo(failed(99, 0), timeout=30).created  # listed once: no repeat
    videos = stub.ListVideos(analytics_pb2.ListVideosRequest(), timeout=30).videos
    assert sorted(v.repeats for v in videos) == [0] + [MAX_REPEATS] * 10
    assert sum(v.repeats for v in videos) == MAX_TOTAL_REPEATS
