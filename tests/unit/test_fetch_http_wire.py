"""Reading a server's answer strictly: status line, headers, Content-Length, transfer coding, chunk sizes."""

import re

import pytest

from services.ingest.http_wire import (
    BadResponse,
    ByteRange,
    Head,
    content_length,
    is_chunked,
    parse_chunk_size,
    parse_header_lines,
    parse_status_line,
    partial_range,
    status_problem,
)


@pytest.mark.parametrize("line,status", [
    (b"HTTP/1.1 200 OK\r\n", 200), (b"HTTP/1.0 404 Not Found\n", 404), (b"HTTP/1.1 204\r\n", 204),
    (b"HTTP/1.1 302 \r\n", 302),
])
def test_a_status_line_gives_its_code(line, status):
    assert parse_status_line(line) == status


@pytest.mark.parametrize("line", [
    b"", b"garbage\r\n", b"HTTP/2 200 OK\r\n", b"HTTP/1.1 20 OK\r\n", b"HTTP/1.1 2000\r\n", b"HTTP/1.1 600 X\r\n",
    b"HTTP/1.1  200 OK\r\n", b"http/1.1 200 OK\r\n", b"HTTP/1.1 200 O\x00K\r\n", b"ICY 200 OK\r\n",
])
def test_a_malformed_status_line_is_refused(line):
    with pytest.raises(BadResponse, match="malformed answer"):
        parse_status_line(line)


def test_headers_are_read_case_insensitively_with_repeats_kept():
    head = parse_header_lines([b"Content-Type: video/mp4\r\n", b"X-A:1\r\n", b"x-a:  2 \r\n"], 200)
    assert head.get("content-type") == "video/mp4"
    assert head.all("x-a") == ["1", "2"]


@pytest.mark.parametrize("line,reason", [
    (b"no colon here\r\n", "malformed header line"), (b"Bad Name: x\r\n", "malformed header line"),
    (b": empty name\r\n", "malformed header line"), (b" folded\r\n", "folded line"),
    (b"X-A: a\x00b\r\n", "control character"), (b"X-A: a\rb\r\n", "control character"),
])
def test_a_malformed_header_is_refused(line, reason):
    with pytest.raises(BadResponse, match=reason):
        parse_header_lines([line], 200)


def test_a_header_of_a_long_name_holding_a_control_character_is_named_cut_short():
    # Before: its whole name, up to the head's 64 kB, in the row's error.
    with pytest.raises(BadResponse, match=r"^malformed header 'XXXX.{53}\.\.\.' \(control character\)$"):
        parse_header_lines([b"X" * 60_000 + b": a\x01b\r\n"], 200)


def test_too_many_headers_are_refused():
    with pytest.raises(BadResponse, match="too many headers"):
        parse_header_lines([b"X-%d: 1" % i for i in range(101)], 200)


def head_with(name, *values):
    return Head(200, {name: list(values)})


@pytest.mark.parametrize("values,length", [
    ((), None), (("0",), 0), (("1000",), 1000), (("12", "12"), 12), (("12, 12",), 12), ((" 7 ",), 7),
])
def test_a_valid_content_length_is_read(values, length):
    assert content_length(head_with("content-length", *values), 1000) == length


@pytest.mark.parametrize("values,reason", [
    (("abc",), "invalid Content-Length"), (("-1",), "invalid Content-Length"), (("+5",), "invalid Content-Length"),
    (("1e3",), "invalid Content-Length"), (("",), "invalid Content-Length"), (("５",), "invalid Content-Length"),
    (("0x10",), "invalid Content-Length"), (("5", "6"), "conflicting"), (("5, 6",), "conflicting"),
    (("1001",), "1001 bytes is more than the limit of 1000"),
    (("9" * 40,), "more than the limit of 1000"),
])
def test_an_invalid_conflicting_or_too_large_content_length_is_refused(values, reason):
    with pytest.raises(BadResponse, match=reason):
        content_length(head_with("content-length", *values), 1000)


@pytest.mark.parametrize("head,chunked", [
    (Head(200), False), (head_with("transfer-encoding", "chunked"), True),
    (head_with("transfer-encoding", "Chunked"), True),
])
def test_chunked_transfer_coding_is_recognised(head, chunked):
    assert is_chunked(head) is chunked


@pytest.mark.parametrize("head,reason", [
    (head_with("transfer-encoding", "gzip, chunked"), "unsupported Transfer-Encoding"),
    (head_with("transfer-encoding", "identity"), "unsupported Transfer-Encoding"),
    (head_with("transfer-encoding", "chunked", "chunked"), "unsupported Transfer-Encoding"),
    (Head(200, {"transfer-encoding": ["chunked"], "content-length": ["5"]}), "both Content-Length"),
])
def test_other_transfer_codings_and_ambiguous_framing_are_refused(head, reason):
    with pytest.raises(BadResponse, match=reason):
        is_chunked(head)


@pytest.mark.parametrize("line,size", [
    (b"0\r\n", 0), (b"1a\r\n", 26), (b"FF;name=value\r\n", 255), (b"10 \r\n", 16), (b"ffffffffffffffff\r\n", 2**64 - 1),
])
def test_a_chunk_size_line_gives_its_size(line, size):
    assert parse_chunk_size(line) == size


@pytest.mark.parametrize("line", [b"zz\r\n", b"-1\r\n", b"\r\n", b"0x10\r\n", b"1 2\r\n", b"1" * 17 + b"\r\n"])
def test_a_bad_chunk_size_is_refused(line):
    with pytest.raises(BadResponse, match="bad chunk size"):
        parse_chunk_size(line)


@pytest.mark.parametrize(("status", "retry_after", "problem"), [
    (404, None, "HTTP 404 (not found)"),
    (410, None, "HTTP 410 (gone: the video was removed)"),
    (401, None, "HTTP 401 (the server asks for a login: give a link that opens without one)"),
    (403, None, "HTTP 403 (forbidden: a private video, or a signed link that expired?)"),
    (429, "120", "HTTP 429 (too many requests: the server asks to wait 120 s; run the manifest again then)"),
    (429, None, "HTTP 429 (too many requests: run the manifest again later)"),
    (503, "Wed, 21 Oct 2026 07:28:00 GMT",
     "HTTP 503 (the server is failing or overloaded: the server asks to wait until Wed, 21 Oct 2026 07:28:00 GMT; "
     "run the manifest again then)"),
    (500, None, "HTTP 500 (the server is failing or overloaded: run the manifest again later)"),
    (206, None, "HTTP 206 (partial content)"),
    (416, None, "HTTP 416 (requested range not satisfiable)"),
    (418, "\x1b[31m" + "9" * 100, "HTTP 418 (i'm a teapot)"),
    (299, None, "HTTP 299"),  # a code of no standard's
    (429, "\x1b[31m" + "9" * 100, "HTTP 429 (too many requests: run the manifest again later)"),  # no odd wait shown
])
def test_a_refusing_status_is_said_in_words_with_the_wait_the_server_asks_for(status, retry_after, problem):
    assert status_problem(status, retry_after) == problem


def ranged(value: str) -> Head:
    return Head(206, {"content-range": [value]})


@pytest.mark.parametrize("value,start,complete,expected", [
    ("bytes 0-999/5000", 0, None, ByteRange(0, 999, 5000)),
    ("bytes 1000-4999/5000", 1000, 5000, ByteRange(1000, 4999, 5000)),
    ("BYTES 0-0/1", 0, None, ByteRange(0, 0, 1)),
])
def test_a_partial_answer_gives_the_range_it_holds(value, start, complete, expected):
    assert partial_range(ranged(value), start, complete) == expected
    assert expected.length == expected.last - expected.first + 1


@pytest.mark.parametrize("value,start,complete,message", [
    ("bytes 0-999/*", 0, None, "bytes 0-999 of *, a part of a file of unknown length, where the whole file"),
    ("bytes 5-1/10", 0, None, "bytes 5-1 of 10, a range outside the file"),
    ("bytes 0-10/10", 0, None, "bytes 0-10 of 10, a range outside the file"),
    ("bytes 0-999/5000", 1000, 5000, "bytes 0-999 of 5000, a part starting at byte 0, where bytes 1000- were asked"),
    ("bytes 1000-1999/6000", 1000, 5000, "where its first part stated 5000 bytes (the file changed on the server?)"),
    ("items 0-1/2", 0, None, "with no single byte range (Content-Range 'items 0-1/2'), where the whole file"),
])
def test_a_partial_answer_that_does_not_fit_what_was_asked_is_refused_naming_it(value, start, complete, message):
    with pytest.raises(BadResponse, match=re.escape(message)):
        partial_range(ranged(value), start, complete)
