"""Undoing a server's gzip or deflate coding as a stream: the decoded size is capped before it is written, and a
body is either whole data of its coding, a plain file labelled wrongly, or refused saying what is wrong."""

import gzip
import io
import os
import zlib

import pytest

from services.ingest.content_coding import (
    CHUNK,
    MAX_MEMBERS,
    CodingError,
    NotInCoding,
    TooLarge,
    codings,
    decode,
)

DATA = os.urandom(300_000) + bytes(3_000_000)  # some of it incompressible, most of it not


def _decoded(coding, body, max_bytes=10**8, step=None):
    source, out, sizes = io.BytesIO(body), bytearray(), []

    def write(data):
        sizes.append(len(data))
        out.extend(data)

    total = decode(coding, (lambda n: source.read(step)) if step else source.read, write, max_bytes)
    assert total == len(out) and max(sizes, default=0) <= CHUNK, "never more than a chunk of output at a time"
    return bytes(out)


@pytest.mark.parametrize("coding,body", [
    ("gzip", gzip.compress(DATA)),
    ("x-gzip", gzip.compress(DATA)),
    ("deflate", zlib.compress(DATA)),
])
def test_a_body_in_its_coding_decodes_to_the_file(coding, body):
    assert _decoded(coding, body) == DATA
    assert _decoded(coding, body, step=997) == DATA, "however the body is cut into reads"


def test_a_gzip_file_of_several_members_decodes_as_one_file_even_when_a_read_splits_the_signature():
    body = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert _decoded("gzip", body) == DATA
    first = len(gzip.compress(DATA[:1000]))
    source = [body[:first + 1], body[first + 1:]]  # the next member's signature split between two reads
    out = bytearray()
    decode("gzip", lambda n: source.pop(0) if source else b"", out.extend, 10**8)
    assert bytes(out) == DATA


@pytest.mark.parametrize("padding", [1, 511, 10240 - 37, CHUNK + 5])
def test_a_gzip_body_padded_with_zero_bytes_decodes_as_gzip_d_takes_it(padding):
    # A gzip file padded to a tape or tar block (`gzip -d`: "decompression OK, trailing zero bytes ignored").
    # Before: refused, "other bytes after the end of the gzip data".
    body = gzip.compress(DATA[:5000]) + gzip.compress(DATA[5000:]) + bytes(padding)
    assert _decoded("gzip", body) == DATA
    assert _decoded("gzip", body, step=997) == DATA, "however the padding is cut into reads"


@pytest.mark.parametrize("coding,body", [
    ("gzip", gzip.compress(b"video") + bytes(600) + b"x"),  # other bytes after the padding
    ("gzip", gzip.compress(b"video") + bytes(CHUNK + 1) + b"x"),  # ... in a later read
    ("gzip", gzip.compress(b"video") + bytes(3) + gzip.compress(b"more")),  # gzip -d stops at padding too
    ("deflate", zlib.compress(b"video") + bytes(10)),  # zero padding is gzip's (tapes and tar), not deflate's
])
def test_zero_bytes_followed_by_other_bytes_or_after_deflate_data_are_still_refused(coding, body):
    with pytest.raises(CodingError, match=f"other bytes after the end of the {coding} data"):
        decode(coding, io.BytesIO(body).read, lambda data: None, 10**8)


def test_thousands_of_tiny_members_decode_whole_and_more_than_the_cap_of_members_is_refused():
    # Each member's end used to copy the rest of its 1 MiB read: 200,000 empty members (4 MB) took 9 s of a core.
    pieces = [DATA[i:i + 37] for i in range(0, 370_000, 37)]
    body = b"".join(gzip.compress(p, mtime=0) for p in pieces) + gzip.compress(b"", mtime=0) * 5000
    assert _decoded("gzip", body) == DATA[:370_000]
    assert _decoded("gzip", body, step=4099) == DATA[:370_000]
    with pytest.raises(CodingError, match=f"more than {MAX_MEMBERS} members"):
        decode("gzip", io.BytesIO(gzip.compress(b"", mtime=0) * (MAX_MEMBERS + 1)).read, lambda data: None, 10**8)


def test_a_decoded_size_at_the_cap_passes_and_one_byte_more_is_refused_before_it_is_written():
    assert len(_decoded("gzip", gzip.compress(bytes(100_000)), max_bytes=100_000)) == 100_000
    written = []
    with pytest.raises(TooLarge, match="more than the limit of 100000 bytes"):
        decode("gzip", io.BytesIO(gzip.compress(bytes(100_001))).read, written.append, 100_000)
    assert sum(map(len, written)) <= 100_000


def test_a_bomb_of_a_thousandfold_stops_at_the_cap():
    bomb = gzip.compress(bytes(50_000_000))  # 50 MB of zeros in ~50 kB
    with pytest.raises(TooLarge):
        decode("gzip", io.BytesIO(bomb).read, lambda data: None, 5_000_000)


@pytest.mark.parametrize("coding,body", [
    ("gzip", b"\x00\x00\x00\x18ftypmp42" + bytes(100)),  # an MP4 stored plain, labelled gzip
    ("deflate", b"\x00\x00\x00\x18ftypmp42" + bytes(100)),
])
def test_a_body_that_does_not_start_in_its_coding_is_told_apart_from_a_corrupt_one(coding, body):
    with pytest.raises(NotInCoding):
        decode(coding, io.BytesIO(body).read, lambda data: None, 10**8)


@pytest.mark.parametrize("coding,body,message", [
    ("gzip", gzip.compress(DATA)[:-10], "the gzip data is cut short"),
    ("gzip", gzip.compress(b"video") + b"junk", "other bytes after the end of the gzip data"),
    ("deflate", zlib.compress(b"video") + b"junk", "other bytes after the end of the deflate data"),
    ("gzip", gzip.compress(b"video" * 1000)[:14] + bytes(range(7, 200)), "corrupt gzip data"),
])
def test_a_cut_corrupt_or_padded_body_is_refused_saying_which(coding, body, message):
    with pytest.raises(CodingError, match=message) as err:
        decode(coding, io.BytesIO(body).read, lambda data: None, 10**8)
    assert not isinstance(err.value, NotInCoding | TooLarge)


@pytest.mark.parametrize("header,listed", [
    ("gzip", ["gzip"]), (" GZip ", ["gzip"]), ("identity", []), ("", []), ("identity, gzip", ["gzip"]),
    ("gzip, br", ["gzip", "br"]), ("zstd", ["zstd"]),
])
def test_the_codings_of_a_header_are_read_in_order_without_identity(header, listed):
    assert codings(header) == listed
