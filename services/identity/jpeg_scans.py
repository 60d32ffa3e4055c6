"""How many scans a JPEG holds, from its markers alone: a progressive JPEG repeating one scan decodes every
block of the image again for each (libjpeg only warns of the bogus progression), so an 8 MB photo of 270,000
scans of 31 bytes kept a face worker busy for about 20 minutes. Cameras and encoders write 1 (baseline) to about
a dozen. Pure: bytes in, a count out."""

from __future__ import annotations

import re

MAX_SCANS = 100  # refused past this: far above any encoder's, and 0.5 s of decoding at 4096x4096 px
_SOS, _EOI = 0xDA, 0xD9
_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")  # a marker: 0xFF then no stuffing, restart or fill
_FILL = re.compile(rb"\xff+")
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0-7: markers without a length


def count_scans(data: bytes, stop_after: int = MAX_SCANS) -> int:
    """The start-of-scan markers of the JPEG `data`, counted by walking its segments (so the SOS of an EXIF
    thumbnail, inside an APP1 segment, is not one of them); counting stops past `stop_after`. Data that is
    no well-formed JPEG is counted as far as it goes: the decoder says what is wrong with it."""
    scans, pos, size = 0, 2, len(data)
    while pos + 4 <= size and scans <= stop_after:
        if data[pos] != 0xFF:
            return scans
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker
            pos = _FILL.match(data, pos).end() - 1  # type: ignore[union-attr]  # data[pos] is 0xFF
            continue
        if marker == _EOI:
            return scans
        if marker in _STANDALONE:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == _SOS:
            scans += 1
            pos = _after_entropy_data(data, pos)
    return scans


def _after_entropy_data(data: bytes, pos: int) -> int:
    """The position of the marker that ends the entropy-coded data starting at `pos` (0xFF 0x00 is a stuffed
    byte, 0xFF 0xD0-0xD7 a restart marker: both are part of the data; 0xFF runs are fill); len(data) when none
    does. A regular expression: megabytes of 0xFF are no Python loop."""
    found = _MARKER.search(data, pos)
    return found.start() if found else len(data)
