"""What a file that no decoder opens is, from its first bytes, in the analyst's words: a web page saved or
served where a video was expected (a share link to a video's page, a login or error page), or some other
text; whether a WebP is an animation; whether an MP4 lacks its index. Bytes in, words out (the MP4 check
reads box headers from a file)."""

from __future__ import annotations

from typing import BinaryIO

SNIFF_BYTES = 1024
_HTML_MARKS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<script", b"<title")
# Text that FFmpeg reads as a list of other files or addresses (the decoder is not let to: video.py).
_LIST_MARKS = ((b"#extm3u", "an HLS playlist (.m3u8)"), (b"ffconcat version", "an FFmpeg concat list"),
               (b"v=0\n", "a session description (SDP)"))
_DASH = "a DASH manifest (.mpd)"  # XML whose root is <MPD>
LIST_KINDS = frozenset({*(kind for _, kind in _LIST_MARKS), _DASH})


def text_kind(head: bytes) -> str:
    """What the first bytes of a file (at most SNIFF_BYTES are read) say it is when they are text: "a web
    page (HTML)", "an XML document", "a JSON document", one of LIST_KINDS (a list of other files: an HLS
    playlist, a concat list, an SDP), "a text file"; "" for anything else (binary data, which the decoder's
    own reason describes better)."""
    head = head[:SNIFF_BYTES]
    if not head or b"\0" in head:
        return ""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut by the SNIFF_BYTES boundary
            return ""
        text = head[:exc.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    if any(not (c.isprintable() or c in "\t\n\r\f") for c in text):
        return ""
    start = text.lstrip(" \t\r\n").lower().encode()
    if start.startswith(_HTML_MARKS) or any(mark in start for mark in (b"<html", b"<!doctype html")):
        return "a web page (HTML)"
    for mark, kind in _LIST_MARKS:
        if start.replace(b"\r\n", b"\n").startswith(mark):
            return kind
    if start.startswith(b"<?xml") or start.startswith(b"<"):
        return _DASH if b"<mpd" in start else "an XML document"
    if start[:1] in (b"{", b"["):
        return "a JSON document"
    return "a text file"


def is_animated_webp(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an animated WebP: a RIFF WEBP file whose first chunk is the
    extended header (VP8X) with its animation flag set (the WebP container specification)."""
    return head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and len(head) > 20 and bool(head[20] & 0x02)


# HEIF's major brands of a still image (ISO/IEC 23008-12 and the AVIF specification): an iPhone photo is `heic`. An
# image sequence (an animation) has its own (`msf1`, `hevc`, `avis`), read as the short video it is.
HEIF_STILL_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC", b"heis": "HEIC", b"avif": "AVIF",
                     b"mif1": "HEIF", b"mif2": "HEIF"}


def heif_still(head: bytes) -> str:
    """The kind ("HEIC", "AVIF", "HEIF") of a file whose first bytes are those of a HEIF still image (its `ftyp`
    box's major brand), else "". FFmpeg 8 reads such a photo's tiles (48 for an iPhone's 12 MP) as streams of one
    picture each."""
    return HEIF_STILL_BRANDS.get(head[8:12], "") if head[4:8] == b"ftyp" else ""


def mp4_lacks_index(f: BinaryIO, size: int, max_boxes: int = 64) -> bool:
    """Whether the file `f` (of `size` bytes) is an MP4 (ISO BMFF: it starts with an `ftyp` box) with no `moov`
    box, the index without which no frame can be found: most phone and camera MP4s write it last, so a
    copy, upload or download cut short loses it. Reads the top-level box headers only (16 bytes each)."""
    boxes, damaged = _top_boxes(f, size, max_boxes)
    kinds = [kind for kind, _ in boxes]
    return not damaged and kinds[:1] == [b"ftyp"] and b"moov" not in kinds


def mp4_box_cut_short(f: BinaryIO, size: int, max_boxes: int = 64) -> bytes:
    """The type of the top-level box of the MP4 `f` (of `size` bytes) that states more bytes than the file holds
    after it (b"moov": cut inside its index, which FFmpeg reads as "invalid data"; b"mdat": inside its media data),
    or b"" (none is, or `f` is no MP4: no `ftyp` box first)."""
    boxes, _ = _top_boxes(f, size, max_boxes)
    if [kind for kind, _ in boxes[:1]] != [b"ftyp"]:
        return b""
    return next((kind for kind, end in boxes if end > size), b"")


def _top_boxes(f: BinaryIO, size: int, max_boxes: int) -> tuple[list[tuple[bytes, int]], bool]:
    """(type, offset of its end as stated) of the top-level boxes of the file `f` of `size` bytes, up to the first
    header that is no box or the end of the file; and whether such a header was met (damage the decoder's own
    reason describes)."""
    offset, seen = 0, []
    while offset + 8 <= size and len(seen) < max_boxes:
        f.seek(offset)
        header = f.read(16)
        length, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if length == 1:  # a 64-bit size follows the type
            length = int.from_bytes(header[8:16], "big") if len(header) == 16 else 0
        elif length == 0:  # the box runs to the end of the file
            length = size - offset
        if length < 8:
            return seen, True
        offset += length
        seen.append((kind, offset))
    return seen, False


def gif_lacks_trailer(f: BinaryIO) -> bool:
    """Whether the GIF `f` ends before its trailer (0x3B), the end marker of a whole GIF: a GIF states no length,
    so a copy or download cut short is known by its blocks running out first. Walks the blocks (header,
    colour tables, extensions, images, each data sub-block by its length byte) rather than looking at the last
    byte: bytes after the trailer (an uploader's padding, appended data) are no damage. False when the blocks
    are not understood and are not zeros to the end (no claim of damage: the decoder's own reason describes it)."""

    def skip(n: int) -> bool:
        return n == 0 or len(f.read(n)) == n

    def sub_blocks() -> bool:  # data sub-blocks, each a length byte then that many bytes, ended by a 0 length
        while True:
            length = f.read(1)
            if not length:
                return False
            if length[0] == 0:
                return True
            if not skip(length[0]):
                return False

    header = f.read(13)  # signature, version, logical screen descriptor
    if len(header) < 13 or header[:3] != b"GIF":
        return False
    if not skip(3 << ((header[10] & 7) + 1) if header[10] & 0x80 else 0):  # global colour table
        return True
    while True:
        kind = f.read(1)
        if not kind:
            return True
        if kind == b"\x3b":
            return False
        if kind == b"\x21":  # an extension: its label, then sub-blocks
            if not skip(1) or not sub_blocks():
                return True
        elif kind == b"\x2c":  # an image: its descriptor, local colour table, LZW code size, then sub-blocks
            descriptor = f.read(9)
            if len(descriptor) < 9:
                return True
            if not skip(3 << ((descriptor[8] & 7) + 1) if descriptor[8] & 0x80 else 0) or not skip(1) \
                    or not sub_blocks():
                return True
        else:  # not a block of GIF's: a cut file padded with zeros (a preallocated download), else not understood
            return kind == b"\0" and all(not chunk.strip(b"\0") for chunk in iter(lambda: f.read(2**16), b""))


def matroska_whole(f: BinaryIO, size: int) -> bool:
    """Whether the Matroska/WebM file `f` (of `size` bytes) holds its whole segment: the size its segment states (a
    muxer writing a file it can seek in writes it once done) ends within the file. False for a file cut short (the
    stated end lies past the file's), a live recording (a segment of unknown size) or no Matroska file."""
    f.seek(0)
    head = f.read(64)
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return False
    header = _vint(head, 4)
    if header is None or 4 + header[1] + header[0] + 4 > len(head):
        return False
    at = 4 + header[1] + header[0]
    if head[at:at + 4] != b"\x18\x53\x80\x67":
        return False
    segment = _vint(head, at + 4)
    if segment is None or segment[0] == (1 << (7 * segment[1])) - 1:  # all ones: a size not known when written
        return False
    return at + 4 + segment[1] + segment[0] <= size


MATROSKA_CLUSTER = b"\x1f\x43\xb6\x75"
CLUSTER_TIMESTAMP = 0xE7  # a cluster's first element, as muxers write it


def matroska_unread(f: BinaryIO, offset: int, window: int = 64 << 20) -> bool:
    """Whether the Matroska file `f` holds frames past `offset`, where a demuxer stopped: the cluster it stopped in
    (the last one starting before `offset`, within `window` bytes) states that it ends further on, or a cluster starts
    after it (its ID, a size, then its Timestamp element, as muxers write them; the cues and tags written last hold
    none). False for a cluster of a size not known when written (a live recording)."""
    f.seek(max(0, offset - window))
    before = f.read(offset - max(0, offset - window))
    at = before.rfind(MATROSKA_CLUSTER)
    while at >= 0:
        size = _cluster_size(before + f.read(16), at)
        if size is not None:
            whole, length = size
            if whole != (1 << (7 * length)) - 1 and max(0, offset - window) + at + 4 + length + whole > offset:
                return True
            break
        at = before.rfind(MATROSKA_CLUSTER, 0, at)
    f.seek(max(0, offset))
    after = f.read(window)
    at = after.find(MATROSKA_CLUSTER)
    while at >= 0:
        if _cluster_size(after, at) is not None:
            return True
        at = after.find(MATROSKA_CLUSTER, at + 1)
    return False


def _cluster_size(data: bytes, at: int) -> tuple[int, int] | None:
    """(size, length of the size) of the cluster whose ID is at `at` in `data`, when its Timestamp element follows;
    None when it is no cluster."""
    size = _vint(data, at + 4)
    if size is None or data[at + 4 + size[1]:at + 5 + size[1]] != bytes([CLUSTER_TIMESTAMP]):
        return None
    return size


def _vint(data: bytes, at: int) -> tuple[int, int] | None:
    """(value, length in bytes) of the EBML variable-size integer at `at` in `data`, or None where none fits."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        return None
    value = data[at] & ((1 << (8 - length)) - 1)
    for byte in data[at + 1:at + length]:
        value = value << 8 | byte
    return value, length
