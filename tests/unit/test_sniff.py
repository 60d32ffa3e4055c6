"""A file no decoder opens is named for what it is when it is text: most often a web page where a video
was expected (a link to the page that plays a video, a login or error page)."""

import io

import pytest

from services.ingest.sniff import SNIFF_BYTES, mp4_box_cut_short, mp4_lacks_index, text_kind


@pytest.mark.parametrize(("head", "kind"), [
    (b"<!DOCTYPE html><html><head><title>TikTok</title>", "a web page (HTML)"),
    (b"\xef\xbb\xbf\r\n  <html lang=en>", "a web page (HTML)"),
    (b"<!-- a comment --><html>", "a web page (HTML)"),
    (b"<head><meta charset=utf-8>", "a web page (HTML)"),
    (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "an XML document"),
    (b'{"error": "expired"}', "a JSON document"),
    (b"this is a text file, not a video\n", "a text file"),
    (b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n", "an HLS playlist (.m3u8)"),
    (b"\xef\xbb\xbf#EXTM3U\r\n", "an HLS playlist (.m3u8)"),
    (b"ffconcat version 1.0\nfile a.mp4\n", "an FFmpeg concat list"),
    (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n", "a session description (SDP)"),
    (b"v=0.5 of my notes\n", "a text file"),
    (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">', "a DASH manifest (.mpd)"),
    ("Vidéo indisponible".encode() * 200, "a text file"),  # a character cut at SNIFF_BYTES is still text
    (b"", ""),
    (b"\x00\x00\x00\x18ftypmp42", ""),
    (b"\x1a\x45\xdf\xa3 matroska", ""),
    (b"GIF89a\x01\x00", ""),
    (b"\xff\xd8\xff\xe0 JFIF", ""),
    (b"abc\x01def", ""),
])
def test_text_is_named_and_anything_binary_is_left_to_the_decoders_reason(head, kind):
    assert text_kind(head) == kind


def test_only_the_first_bytes_are_read():
    assert text_kind(b"a" * SNIFF_BYTES + b"\x00") == "a text file"


def box(kind: bytes, body: bytes = b"", length: int | None = None) -> bytes:
    return (8 + len(body) if length is None else length).to_bytes(4, "big") + kind + body


@pytest.mark.parametrize(("data", "lacks"), [
    (box(b"ftyp", b"isom") + box(b"mdat", bytes(100)), True),
    (box(b"ftyp", b"isom") + box(b"mdat", bytes(100), length=10_000), True),  # cut inside the media data
    (box(b"ftyp", b"isom") + box(b"free") + (1).to_bytes(4, "big") + b"mdat" + (116).to_bytes(8, "big") + bytes(100),
     True),  # a 64-bit size
    (box(b"ftyp", b"isom") + box(b"mdat", bytes(100)) + box(b"moov", bytes(20)), False),
    (box(b"ftyp", b"isom") + box(b"moov", bytes(20)) + box(b"mdat", bytes(100), length=0), False),
    (box(b"mdat", bytes(100)), False),  # no ftyp: not said to be an MP4
    (b"\x1a\x45\xdf\xa3 matroska" + bytes(50), False),
    (box(b"ftyp", b"isom") + bytes(3), True),  # cut short right after its ftyp box
    (box(b"ftyp", b"isom") + box(b"junk", length=3) + bytes(20), False),  # damage: left to the decoder's reason
])
def test_an_mp4_without_its_moov_box_is_recognised_from_box_headers(data, lacks):
    assert mp4_lacks_index(io.BytesIO(data), len(data)) is lacks


@pytest.mark.parametrize(("data", "cut"), [
    (box(b"ftyp", b"isom") + box(b"mdat", bytes(100)) + box(b"moov", bytes(20), length=500), b"moov"),
    (box(b"ftyp", b"isom") + box(b"moov", bytes(20)) + box(b"mdat", bytes(100), length=10_000), b"mdat"),
    (box(b"ftyp", b"isom") + box(b"moov", bytes(20)) + box(b"mdat", bytes(100)), b""),
    (box(b"ftyp", b"isom") + box(b"moov", bytes(20)) + box(b"mdat", bytes(100), length=0), b""),  # to the end
    (box(b"mdat", bytes(100), length=10_000), b""),  # no ftyp: not said to be an MP4
])
def test_the_box_an_mp4_is_cut_short_inside_is_named_from_box_headers(data, cut):
    assert mp4_box_cut_short(io.BytesIO(data), len(data)) == cut
