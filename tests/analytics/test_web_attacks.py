"""What a hostile (or merely odd) client can send the report page at its HTTP boundary: each test names an
input that once gave a wrong answer or a 500, and the answer the page gives now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from werkzeug.http import http_date

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app

BYTES = bytes(range(256)) * 40  # 10,240 bytes standing for a video file
VIDEO = "00000000000000a1"
MEDIA = f"/video/{VIDEO}/media"
SECOND = 1_700_000_000  # a whole second the tests set a file's modification time to


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    root.mkdir()
    path = root / "clip.mp4"
    path.write_bytes(BYTES)
    os.utime(path, ns=(SECOND * 10**9, SECOND * 10**9 + 100))
    return path


@pytest.fixture
def client(tmp_path: Path, clip: Path):  # noqa: ANN201
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="clip.mp4", video_id=VIDEO, performance=1.0, status=DONE, duration_s=10.0,
                                faces=1, location=str(clip)),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    yield create_app(store, {"ALLOWED_ROOT": str(clip.parent)}).test_client()
    store.close()


# ---- byte ranges ----------------------------------------------------------------------------------------

def test_a_suffix_range_longer_than_the_file_is_the_whole_file_not_416(client) -> None:  # noqa: ANN001
    """RFC 9110 §14.1.3: a suffix longer than the representation means all of it (a player asking for the last
    megabyte, where an MP4 keeps its index, of a smaller file)."""
    answer = client.get(MEDIA, headers={"Range": "bytes=-1000000"})
    assert answer.status_code == 206, answer.status
    assert answer.data == BYTES and answer.headers["Content-Range"] == f"bytes 0-{len(BYTES) - 1}/{len(BYTES)}"
    assert client.get(MEDIA, headers={"Range": "bytes=-10"}).data == BYTES[-10:]


@pytest.mark.parametrize("header", ["items=0-9", "bytes=0-0,5-9", "bytes=5-1", "bytes=abc", "bytes=-",
                                    "bytes=\u00e9-", "bytes=0-1,,2-3", "bytes=" + "9" * 5000 + "-1"])
def test_a_range_the_page_does_not_take_is_ignored_and_the_whole_file_served(client, header: str) -> None:  # noqa: ANN001
    """An unknown unit MUST be ignored (RFC 9110 §14.2); an invalid range, or several, may be: the whole file
    (200), never a 416 saying the file has no such bytes."""
    answer = client.get(MEDIA, headers={"Range": header})
    assert answer.status_code == 200, (header[:20], answer.status)
    assert answer.data == BYTES


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=-0", "bytes=" + "9" * 40 + "-"])
def test_a_range_past_the_end_is_416_with_the_files_length(client, header: str) -> None:  # noqa: ANN001
    answer = client.get(MEDIA, headers={"Range": header})
    assert answer.status_code == 416 and answer.headers["Content-Range"] == f"bytes */{len(BYTES)}"


@pytest.mark.parametrize(("header", "status", "part"), [
    ("bytes=" + "0" * 24 + "1-", 206, BYTES[1:]),                        # leading zeros: byte 1, was 416
    ("bytes=0-" + "0" * 24 + "9", 206, BYTES[:10]),                      # was the whole file as a 206
    ("bytes=-" + "0" * 24 + "5", 206, BYTES[-5:]),                       # was the whole file as a 206
    ("bytes=" + "0" * 5000 + "7-" + "0" * 5000 + "8", 206, BYTES[7:9]),  # past int()'s 4,300 digits
    ("bytes=" + "9" * 21 + "-", 416, b""),                               # overflow: past the end
    ("bytes=" + "9" * 21 + "-" + "9" * 22, 416, b""),                    # a valid range past the end
    ("bytes=" + "9" * 22 + "-" + "9" * 21, 200, BYTES),                  # last before first: invalid, was 416
    ("bytes=" + "9" * 21 + "-1", 200, BYTES),                            # last before first: invalid
    ("bytes=-00", 416, b""), ("bytes=-0", 416, b""),                     # the empty suffix
    ("bytes=-" + "9" * 30, 206, BYTES),                                  # a suffix longer than the file
    ("bytes=0-9,20-29", 200, BYTES), ("bytes=10240-,0-9", 200, BYTES),   # several ranges: ignored
    ("bytes=-5-", 200, BYTES), ("bytes=--5", 200, BYTES), ("bytes=+5-", 200, BYTES),  # negative, signed
    ("bytes=0 - 9", 200, BYTES), ("bytes=0x10-", 200, BYTES),            # blanks inside, hex
    (" bytes = 0-9 ", 206, BYTES[:10]), ("bytes=\t0-9,", 206, BYTES[:10]),  # blanks the grammar allows
])
def test_every_odd_range_is_a_206_by_its_value_a_416_past_the_end_or_ignored_when_invalid(
        client, header: str, status: int, part: bytes) -> None:  # noqa: ANN001
    """One rule for every Range (RFC 9110 §14.2): one valid range is answered by the value of its digits, however
    many leading zeros; one starting past the end (or `-0`) is 416; an invalid one (last before first, a sign, blanks
    inside, several ranges) is ignored: the whole file, 200. Positions were capped at 20 digits before leading
    zeros were dropped, so `000…1-` was a 416 and `0-000…9` the whole file."""
    answer = client.get(MEDIA, headers={"Range": header})
    assert answer.status_code == status, (header[:40], answer.status)
    if status != 416:
        assert answer.data == part, header[:40]
    else:
        assert answer.headers["Content-Range"] == f"bytes */{len(BYTES)}"


# ---- validators: a file replaced between two requests of one player ---------------------------------------

def _replace(clip: Path, data: bytes, mtime_ns: int) -> None:
    """Another file of the same size moved over `clip` (as a re-download or a restore does)."""
    fresh = clip.with_suffix(".part")
    fresh.write_bytes(data)
    os.utime(fresh, ns=(mtime_ns, mtime_ns))
    os.replace(fresh, clip)


def test_a_file_replaced_within_the_same_second_gets_a_new_etag_so_no_range_splices_two_files(client, clip) -> None:  # noqa: ANN001
    """The ETag was size and whole-second mtime: a same-size file moved in within that second kept it, and a
    player resuming with If-Range got the new file's bytes to splice into the old one's."""
    first = client.get(MEDIA, headers={"Range": "bytes=0-9"})
    other = bytes(reversed(BYTES))
    _replace(clip, other, SECOND * 10**9 + 900_000_000)
    resumed = client.get(MEDIA, headers={"Range": "bytes=10-19", "If-Range": first.headers["ETag"]})
    assert resumed.headers["ETag"] != first.headers["ETag"]
    assert resumed.status_code == 200 and resumed.data == other, "a changed file is sent whole"


def test_if_range_with_a_date_is_an_exact_match_of_last_modified(client, clip) -> None:  # noqa: ANN001
    """A file replaced by an older one (a restore keeps its mtime) is not the version the client holds, whose
    date is later: If-Range with a date holds only when it is the file's Last-Modified exactly."""
    held = http_date(SECOND + 3600)
    answer = client.get(MEDIA, headers={"Range": "bytes=0-9", "If-Range": held})
    assert answer.status_code == 200 and answer.data == BYTES
    exact = client.get(MEDIA, headers={"Range": "bytes=0-9", "If-Range": http_date(SECOND)})
    assert exact.status_code == 206 and exact.data == BYTES[:10]


def test_a_failed_if_match_is_412_without_the_file_and_comes_before_any_range(client) -> None:  # noqa: ANN001
    """Werkzeug's 412 kept the whole file as its body, and a Range skipped the If-Match check (206)."""
    for headers in ({"If-Match": '"not-this-one"'}, {"If-Match": '"not-this-one"', "Range": "bytes=0-9"}):
        answer = client.get(MEDIA, headers=headers)
        assert answer.status_code == 412, (headers, answer.status)
        assert BYTES[:64] not in answer.data and answer.mimetype != "video/mp4"
    etag = client.get(MEDIA).headers["ETag"]
    assert client.get(MEDIA, headers={"If-Match": etag, "Range": "bytes=0-9"}).status_code == 206
    assert client.get(MEDIA, headers={"If-Match": "*"}).status_code == 200


def test_a_current_if_none_match_is_304_even_with_a_range(client) -> None:  # noqa: ANN001
    etag = client.get(MEDIA).headers["ETag"]
    answer = client.get(MEDIA, headers={"If-None-Match": etag, "Range": "bytes=0-9"})
    assert answer.status_code == 304 and answer.data == b"" and answer.headers["ETag"] == etag
    assert client.get(MEDIA, headers={"If-None-Match": '"old"', "Range": "bytes=0-9"}).status_code == 206


# ---- the Undo button's way back ---------------------------------------------------------------------------

class _Corrections:
    """Enough of the corrections port for pages to show their Undo button."""

    def review_items(self, limit: int = 0) -> list:
        return []


@pytest.mark.parametrize(("path", "back"), [
    (f"/video/{VIDEO}?video_id=x", f"/video/{VIDEO}?video_id=x"),
    ("/videos?endpoint=x&catching_up=1", "/videos?endpoint=x"),
    ("/?_method=POST", "/?_method=POST"),
    ("/?_scheme=https&_external=1", "/?_scheme=https&_external=1"),
    ("/predict?ids=inf_00000000a1&ids=inf_00000000b2", "/predict?ids=inf_00000000a1&ids=inf_00000000b2"),
])
def test_a_query_parameter_named_like_url_fors_arguments_keeps_the_page_and_its_undo(
        tmp_path: Path, clip: Path, path: str, back: str) -> None:
    """The Undo form's `next` was url_for(endpoint, **view_args, **query): `?endpoint=`, `?_method=` or a
    parameter named like the route's own was a 500 (and so was the error page, which shows the Undo too);
    `?_external=1&_scheme=` made it an absolute URL, and a repeated parameter lost all but its first value."""
    from html import unescape

    from services.analytics.audit import AuditRow

    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="clip.mp4", video_id=VIDEO, performance=1.0, status=DONE, duration_s=10.0,
                                faces=1, location=str(clip)),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    store.apply_changes(1, {}, {}, audit=AuditRow("a" * 32, "hide", "page", float(SECOND), ("inf_00000000a1",),
                                                  ("inf_00000000a1",), {}, undoable=True))
    app = create_app(store, {}, corrections=_Corrections())  # type: ignore[arg-type]
    client = app.test_client()
    client.set_cookie("influencers_done", "a" * 32)
    answer = client.get(path)
    assert answer.status_code == 200, answer.status
    html = answer.get_data(as_text=True)
    assert 'name="audit_id" value="' + "a" * 32 in html
    assert unescape(html.split('name="next" value="', 1)[1].split('"', 1)[0]) == back
    store.close()


def test_a_long_query_is_not_copied_into_every_add_a_name_form_of_the_overview(tmp_path: Path) -> None:
    """Each unnamed face's "Add a name" form carried the address whole as its `next`: a 200 kB query made a 25 kB
    overview of 8 unnamed faces 1.6 MB (waitress takes 256 kB of request head; an overview of 500 unnamed faces,
    128 MB per GET). A `next` over 2,000 characters is refused by the rename anyway: the forms now go back to
    the path alone, and a short query is kept."""
    import re
    from html import unescape

    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    for k in range(8):
        video = f"{k:016x}"
        store.record_video(VideoRow(url=f"v{k}.mp4", video_id=video, performance=1.0 + k, status=DONE,
                                    duration_s=10.0, faces=1),
                           [AppearanceRow(video, f"inf_{k:010x}", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    client = create_app(store, {}, corrections=_Corrections()).test_client()  # type: ignore[arg-type]
    try:
        plain = client.get("/?min_videos=1")
        backs = re.findall(r'name="next" value="([^"]*)"', plain.get_data(as_text=True))
        assert len(backs) == 8 and {unescape(b) for b in backs} == {"/?min_videos=1"}
        padded = client.get("/?min_videos=1&pad=" + "x" * 100_000)
        assert padded.status_code == 200
        backs = re.findall(r'name="next" value="([^"]*)"', padded.get_data(as_text=True))
        assert len(backs) == 8 and set(backs) == {"/"}
        assert len(padded.data) < len(plain.data) + 10_000, len(padded.data)
    finally:
        store.close()


# ---- the JSON API's bodies --------------------------------------------------------------------------------

def _signed_in_page(tmp_path: Path):  # noqa: ANN202
    """A client of the page with corrections, and its session's CSRF token (read off the enrol form)."""
    import re

    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    client = create_app(store, {}, corrections=_Corrections()).test_client()  # type: ignore[arg-type]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    return client, token.group(1), store


@pytest.mark.parametrize(("body", "named"), [
    (b'{"influencer_a": 5, "influencer_b": "inf_00000000b2", "answer": "same"}', "influencer_a"),
    (b'{"influencer_a": "inf_00000000a1", "influencer_b": {"x": 1}, "answer": "same"}', "influencer_b"),
    (b'{"influencer_a": NaN, "influencer_b": "inf_00000000b2", "answer": "same"}', "influencer_a"),
    (b'{"influencer_a": ["inf_00000000a1"], "influencer_b": "inf_00000000b2", "answer": "same"}', "influencer_a"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON object"),
])
def test_an_answer_in_json_of_the_wrong_shape_is_a_json_400_naming_the_field(
        tmp_path: Path, body: bytes, named: str) -> None:
    """A number, an object or NaN where an influencer id goes, or JSON nested 100,000 deep, was a 500."""
    client, token, store = _signed_in_page(tmp_path)
    answer = client.post("/api/review/answer.json", data=body,
                         headers={"Content-Type": "application/json", "X-CSRF-Token": token})
    assert answer.status_code == 400, answer.get_data(as_text=True)[:200]
    assert answer.is_json and named in answer.get_json()["error"]
    store.close()


# ---- multipart bodies that cannot be read -----------------------------------------------------------------

_BOUNDARY = "zzz"
_CUT = (f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{{token}}\r\n'
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nAlice\r\n'
        f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n\r\n\xff\xd8\xff')


@pytest.mark.parametrize("how", ["cut short", "without a boundary"])
def test_a_multipart_upload_that_cannot_be_read_is_said_to_be_so_not_a_missing_name_or_csrf_token(
        tmp_path: Path, how: str) -> None:
    """Werkzeug reads such a body as an empty form, in silence: the enrol form said "give a name" (and a browser's
    form, whose token travels in the body, "missing or wrong CSRF token")."""
    client, token, store = _signed_in_page(tmp_path)
    body = _CUT.replace("{token}", token).encode("latin-1")
    kind = f"multipart/form-data; boundary={_BOUNDARY}" if how == "cut short" else "multipart/form-data"
    for headers in ({"Content-Type": kind}, {"Content-Type": kind, "X-CSRF-Token": token}):
        answer = client.post("/enrol", data=body, headers=headers)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400, (headers, answer.status)
        assert "not a whole multipart/form-data upload" in text and "CSRF" not in text and "give a name" not in text
    store.close()


# ---- bodies that are not uploads --------------------------------------------------------------------------

_MANY_NAMES = b"&".join(b"k%07d=" % i for i in range(60_000))  # 600 kB of distinct field names


@pytest.mark.parametrize(("path", "body", "kind"), [
    ("/signin", _MANY_NAMES, "application/x-www-form-urlencoded"),
    ("/signin", b"&".join([b"a="] * 1_001), "application/x-www-form-urlencoded"),
    ("/review/answer", _MANY_NAMES, "application/x-www-form-urlencoded"),
    ("/api/review/answer.json", b'{"answer": "' + b"x" * 600_000 + b'"}', "application/json"),
])
def test_a_form_or_json_body_over_the_form_limits_is_a_413_before_it_is_parsed(
        tmp_path: Path, path: str, body: bytes, kind: str) -> None:
    """Werkzeug bounds only multipart forms by their fields (1,000) and text (500 kB): an urlencoded form or a JSON
    body was read whole up to the 25 MB the enrol photos need, and 25 MB of distinct field names sent to /signin,
    which needs no session, cost the live page 13 s and 725 MB of memory for one request."""
    client, token, store = _signed_in_page(tmp_path)
    for headers in ({"Content-Type": kind, "X-CSRF-Token": token}, {"Content-Type": kind}):
        answer = client.post(path, data=body, headers=headers)
        message = answer.get_json()["error"] if answer.is_json else answer.get_data(as_text=True)
        assert answer.status_code == 413, (path, answer.status, message[-300:])
        assert "1,000 fields" in message and "500 kB" in message
    store.close()


def test_a_form_within_the_limits_still_reaches_its_view(tmp_path: Path) -> None:
    """999 fields and the CSRF token: the body is read once (cached for the form) and the view answers."""
    client, token, store = _signed_in_page(tmp_path)
    body = b"&".join([b"csrf_token=" + token.encode(), b"answer=skip", *[b"pad=1"] * 997])
    answer = client.post("/review/answer", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "influencer_a" in answer.get_data(as_text=True), answer.status
    store.close()


@pytest.mark.parametrize("value", [b"%ED%A0%80", b"%FF%FE", b"Ann%C3", b"%C0%AF"])
def test_a_form_value_that_is_not_utf8_is_a_400_naming_its_field_not_a_name_of_percent_escapes(
        tmp_path: Path, value: bytes) -> None:
    """Werkzeug kept bytes that are not UTF-8 as their %-escapes: `name=%ED%A0%80` (a lone surrogate) renamed an
    influencer "%ED%A0%80". A browser sends the page's UTF-8; such a form is refused before its view runs."""
    from html import unescape

    from tests.analytics.test_analytics_web import FakeCorrections

    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="v.mp4", video_id=VIDEO, performance=1.0, status=DONE, duration_s=10.0, faces=1),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    fake = FakeCorrections()
    client = create_app(store, {}, corrections=fake).test_client()
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/enrol").get_data(as_text=True))
    assert token is not None
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token.group(1)}
    try:
        answer = client.post("/influencer/inf_00000000a1/rename", data=b"name=" + value, headers=form)
        assert answer.status_code == 400 and "form field 'name' is not UTF-8" in unescape(answer.get_data(as_text=True))
        assert fake.calls == []
        kept = client.post("/influencer/inf_00000000a1/rename", data=b"name=%C3%89lodie+%F0%9F%98%80", headers=form)
        assert kept.status_code == 303 and fake.calls[-1][-1] == "\u00c9lodie \U0001f600", fake.calls
    finally:
        store.close()


# ---- caches ---------------------------------------------------------------------------------------------

def test_behind_a_token_pages_and_downloads_are_not_stored_by_any_cache(tmp_path: Path, clip: Path) -> None:
    """Pages behind sign-in had no Cache-Control: after signing out, Back showed the report from the browser's
    cache, and a shared cache in front of the page might keep the downloads."""
    import re

    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="clip.mp4", video_id=VIDEO, performance=1.0, status=DONE, duration_s=10.0,
                                faces=1, location=str(clip)),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    client = create_app(store, {"TOKEN": "t0ken", "ALLOWED_ROOT": str(clip.parent)}).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").get_data(as_text=True))
    assert token is not None
    assert client.post("/signin", data={"token": "t0ken", "csrf_token": token.group(1)}).status_code == 303
    for path in ("/", "/videos", f"/video/{VIDEO}", "/download/videos.csv", "/api/videos.json", "/audit"):
        answer = client.get(path)
        assert answer.status_code == 200 and "no-store" in answer.headers.get("Cache-Control", ""), path
    assert client.get(MEDIA).headers["Cache-Control"] == "no-cache", "the player's file keeps its own"
    store.close()


def test_every_answer_holding_a_script_typed_as_a_url_says_its_type_is_not_to_be_sniffed(tmp_path: Path) -> None:
    """JSON and CSV answers quote names and URLs as typed (`<script>` stays `<script>` in a JSON string): each
    answer, pages, downloads and errors alike, tells the browser not to read it as anything but its type."""
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="https://cdn.example/<script>alert(1)</script>.mp4", video_id=VIDEO,
                                performance=1.0, status=DONE, duration_s=10.0, faces=1),
                       [AppearanceRow(VIDEO, "inf_00000000a1", 1.0, 2.0, 1, 1.0, 0.8, b"", False)])
    client = create_app(store, {}).test_client()
    try:
        assert b"<script>alert(1)</script>" in client.get("/api/videos.json").data
        for path in ("/api/videos.json", "/api/influencers.json", "/download/videos.csv", "/", "/videos",
                     f"/video/{VIDEO}", "/api/nothing.json", "/nothing"):
            answer = client.get(path)
            assert answer.headers.get("X-Content-Type-Options") == "nosniff", (path, answer.status)
    finally:
        store.close()


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("GET", "/", {}, 200), ("GET", "/nope", {}, 404), ("PUT", "/", {}, 405),
    ("GET", "/audit?page_token=bogus", {}, 400),
    ("POST", "/undo", {}, 403), ("GET", "/api/nope.json", {}, 404), ("GET", "/", {"Host": "evil.example"}, 421),
    ("GET", MEDIA, {}, 200), ("GET", MEDIA, {"Range": "bytes=0-9"}, 206), ("HEAD", MEDIA, {"Range": "bytes=0-9"}, 206),
    ("GET", MEDIA, {"Range": "bytes=99999-"}, 416), ("GET", MEDIA, {"If-Match": '"other"'}, 412),
    ("GET", "/static/style.css", {"Range": "bytes=0-9"}, 206), ("GET", "/static/nope.css", {}, 404),
    ("GET", "/download/videos.csv", {}, 200), ("GET", "/api/audit.json", {}, 200),
])
def test_every_answer_errors_and_byte_ranges_included_carries_the_security_headers(
        client, method: str, path: str, headers: dict, status: int) -> None:  # noqa: ANN001
    answer = client.open(path, method=method, headers=headers)
    assert answer.status_code == status, answer.status
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin" and answer.headers["X-Frame-Options"] == "DENY"
