"""Enrol photos an attacker or a phone would send: full-size photos are shrunk before detection, a call
carries at most 10 photos, and a decompression bomb is refused by its header."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest
from test_review_queue import PHOTOS, clients, stack  # noqa: F401 - fixtures

from services.identity.photos import MAX_SIDE_PX, decode_reduction, shrunk_size

COLIN = PHOTOS / "colin_powell" / "01.jpg"


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` px (IHDR) and holds almost nothing: a decompression bomb's face."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)))


def test_a_photo_is_decoded_reduced_and_shrunk_to_about_1000_px_on_its_long_side() -> None:
    assert decode_reduction(4096, 4096) == 4 and decode_reduction(8000, 2000) == 8
    assert decode_reduction(1999, 1000) == 1 and decode_reduction(640, 480) == 1
    assert shrunk_size(4096, 4096) == (MAX_SIDE_PX, MAX_SIDE_PX) == (1000, 1000)
    assert shrunk_size(1024, 4096) == (250, 1000) and shrunk_size(640, 480) == (640, 480)


def test_a_full_size_photo_enrols_the_same_person_as_its_small_original(stack, clients):  # noqa: F811
    if not COLIN.is_file():
        pytest.skip(f"{COLIN} not present")
    ident, _ = clients
    small = COLIN.read_bytes()
    big = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(COLIN)), (4096, 4096), interpolation=cv2.INTER_CUBIC),
                       [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    reply = ident.enrol("Colin", [big])
    assert reply.faces_enrolled == 1 and reply.influencer.name == "Colin"
    again = ident.enrol("Colin", [small])
    assert again.influencer.influencer_id == reply.influencer.influencer_id, "the shrunk face matches the original"


def test_more_than_10_photos_or_a_bomb_are_refused_naming_the_limit(stack, clients):  # noqa: F811
    ident, _ = clients
    blank = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    with pytest.raises(grpc.RpcError) as err:
        ident.enrol("Many", [blank] * 11)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "11 photos: enrolling takes 1 to 10"
    with pytest.raises(grpc.RpcError) as err:
        ident.enrol("Bomb", [_png_header(5000, 5000)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "photo 0: image of 5000x5000 px" in err.value.details() and "more than the limit" in err.value.details()


def test_the_page_accepts_no_more_photos_than_identity() -> None:
    from services.analytics.web.corrections import MAX_PHOTOS as PAGE_LIMIT
    from services.identity.server import MAX_PHOTOS as IDENTITY_LIMIT
    assert PAGE_LIMIT <= IDENTITY_LIMIT == 10
    assert Path(COLIN).suffix == ".jpg"


def test_a_photo_of_two_people_says_it_had_two_faces_and_the_largest_is_enrolled(stack, clients):  # noqa: F811
    ben = PHOTOS / "ben_affleck" / "01.jpg"
    if not (COLIN.is_file() and ben.is_file()):
        pytest.skip(f"{COLIN} or {ben} not present")
    ident, _ = clients
    colin, other = cv2.imread(str(COLIN)), cv2.imread(str(ben))
    other = cv2.resize(other, (other.shape[1] * colin.shape[0] // other.shape[0], colin.shape[0]))
    pair = cv2.imencode(".jpg", cv2.hconcat([colin, other]))[1].tobytes()
    reply = ident.enrol("Colin", [COLIN.read_bytes(), pair])
    # Was: no count at all; the page and the CLI enrolled the largest face in silence
    assert list(reply.faces_per_photo) == [1, 2] and reply.faces_enrolled >= 1
