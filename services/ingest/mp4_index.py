"""What an MP4's index (its `moov` box) declares, read before FFmpeg reads it: FFmpeg's MP4 demuxer builds an entry of
about 40 bytes for each sample the index declares, from counts alone, so a file of 1,530 bytes declaring 50 million
samples of one size took 1.9 GB and 20 s to open (in ingest's own process: the repost digest), and 150 million
would take 6 GB. Counted here from the sample size boxes (`stsz`) and the fragments' runs (`trun`), no sample
read. An index larger than any video's (MAX_MOOV_BYTES) is refused from its size alone: FFmpeg parses what it holds
box by box (300 MB of metadata in a `udta` took 7 s each time the file was opened, 37 s to decode one 3 s video)."""

from __future__ import annotations

from typing import BinaryIO

# Samples one track may declare: an hour at 240 fps is 864,000 frames, an hour of AAC 169,000 packets. Only PCM audio
# declares more (one sample a sound sample, 172 million an hour), whose samples are all of one size and fit the file:
# FFmpeg reads those by chunk, not by sample.
MAX_SAMPLES = 2_000_000
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf"})
MAX_INDEX_BYTES = 256 << 20  # a moov read at most (a 10-minute video's is a few hundred kB)
# A moov larger than this is no video's index: an hour at 240 fps with B-frames declares ~15 MB of tables, cover art
# and metadata a few MB more.
MAX_MOOV_BYTES = 64 << 20
MAX_BOXES = 4096  # boxes read inside one top-level box
MAX_TOP_BOXES = 1_000_000  # top-level boxes read (a fragment a frame: 86,400 for an hour at 24 fps)


def overdeclared(f: BinaryIO, size: int) -> str:
    """Why the MP4 `f` (of `size` bytes) declares more samples than a video holds, in words; "" when it does not, or
    when `f` is no MP4 or its index cannot be read (the demuxer then says what is wrong). A fragmented MP4's
    fragments (`moof`: one a second, or one a frame) declare theirs in `trun` boxes, counted over the whole file: a
    fragment declaring 50 million took 3.5 GB."""
    offset, boxes, fragmented = 0, 0, [0]
    while offset + 8 <= size and boxes < MAX_TOP_BOXES:
        kind, start, end = _header(f, offset, size)
        if not kind:
            return ""
        held = min(end, size) - start  # the bytes of it FFmpeg would parse
        if kind == b"moov" and held > MAX_MOOV_BYTES:
            return (f"not a video we read (an MP4 whose index, the moov box, is {held:,} bytes: more than the "
                    f"{MAX_MOOV_BYTES >> 20} MB any video's takes, a damaged or hostile index)")
        if kind in (b"moov", b"moof"):
            said = _walk(f, start, min(end, size, start + MAX_INDEX_BYTES), size, fragmented)
            if said:
                return said
        offset, boxes = end, boxes + 1
    return ""


def _header(f: BinaryIO, offset: int, limit: int) -> tuple[bytes, int, int]:
    """(type, where its payload starts, where it ends as stated) of the box at `offset`; type b"" when no box fits."""
    f.seek(offset)
    header = f.read(16)
    if len(header) < 8:
        return b"", 0, 0
    length, kind, start = int.from_bytes(header[:4], "big"), header[4:8], offset + 8
    if length == 1:  # a 64-bit size follows the type
        if len(header) < 16:
            return b"", 0, 0
        length, start = int.from_bytes(header[8:16], "big"), offset + 16
    elif length == 0:  # the box runs to the end of its parent
        length = limit - offset
    if length < start - offset:
        return b"", 0, 0
    return kind, start, offset + length


def _walk(f: BinaryIO, offset: int, end: int, size: int, fragmented: list[int]) -> str:
    """Why the boxes from `offset` to `end` declare too many samples ("" when they do not); `fragmented` holds the
    samples the fragments' `trun` boxes declared so far."""
    boxes = 0
    while offset + 8 <= end and boxes < MAX_BOXES:
        kind, start, stop = _header(f, offset, end)
        if not kind:
            return ""
        boxes += 1
        if kind in CONTAINERS:
            said = _walk(f, start, min(stop, end), size, fragmented)
            if said:
                return said
        elif kind == b"trun":
            f.seek(start)
            payload = f.read(8)  # version and flags, the count
            fragmented[0] += int.from_bytes(payload[4:8], "big") if len(payload) == 8 else 0
            if fragmented[0] > MAX_SAMPLES:
                return (f"not a readable video (a fragmented MP4 whose fragments declare more than {MAX_SAMPLES:,} "
                        f"samples, in a file of {size:,} bytes: more than a video holds, a damaged or hostile index)")
        elif kind == b"stsz":
            f.seek(start)
            payload = f.read(12)  # version and flags, the size of every sample (0: a table follows), the count
            if len(payload) == 12:
                each, count = int.from_bytes(payload[4:8], "big"), int.from_bytes(payload[8:12], "big")
                if count > MAX_SAMPLES and not (each and each * count <= size):
                    sized = f" of {each:,} bytes each" if each else ""
                    return (f"not a readable video (an MP4 whose index declares {count:,} samples{sized} in one "
                            f"track, in a file of {size:,} bytes: more than the {MAX_SAMPLES:,} a video holds, a "
                            "damaged or hostile index)")
        offset = stop
    return ""
