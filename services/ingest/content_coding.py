"""Undoing the one content coding a server put on a file (`Content-Encoding: gzip` or `deflate`, a misconfigured CDN
or bucket), as a stream with a hard cap on the decoded size: a small answer may inflate a thousandfold (a gzip
bomb), so no more than `max_bytes` are ever produced, and memory holds one chunk at a time.

Pure: bytes in through `read`, bytes out through `write`; the caller owns the files.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

CHUNK = 1 << 20  # bytes read, and bytes produced, at a time
# The codings decoded here, by their names in Content-Encoding (RFC 9110 8.4.1; x-gzip is gzip's old name).
DECODED = frozenset({"gzip", "x-gzip", "deflate"})
_GZIP = 16 + zlib.MAX_WBITS  # zlib's window bits for a gzip member
_ZLIB = zlib.MAX_WBITS
_GZIP_MAGIC = b"\x1f\x8b"
_RAW = -zlib.MAX_WBITS  # deflate without zlib's wrapper, as some servers send `deflate` (browsers take both)


class CodingError(Exception):
    """The body is not whole, valid data in its coding, or decodes to more than the cap; the message says which."""


class NotInCoding(CodingError):
    """The body does not even start in the coding it is labelled with: a file labelled wrongly (a bucket's object
    stored plain with `Content-Encoding: gzip` in its metadata), whose bytes are the file itself."""


class TooLarge(CodingError):
    """The decoded body would be larger than the cap."""


def codings(header: str) -> list[str]:
    """The codings a Content-Encoding value lists, in the order the server applied them, lower case, `identity`
    dropped (it means none)."""
    listed = (c.strip(" \t").lower() for c in header.split(","))
    return [c for c in listed if c and c != "identity"]


def decode(coding: str, read: Callable[[int], bytes], write: Callable[[bytes], object], max_bytes: int) -> int:
    """Decodes the body `read` gives (in chunks, b"" at its end) from `coding` (one of DECODED) into `write`, and
    returns the decoded size in bytes. gzip may hold several members one after another (RFC 1952), decoded as one
    file. NotInCoding when the first bytes are not in `coding` (nothing written); TooLarge past `max_bytes` decoded
    bytes, before they are written; CodingError for a body cut short, corrupt, or followed by other bytes."""
    data = read(CHUNK)
    if not data:
        return 0
    decoder = _decoder(coding, data)
    out = _Capped(write, max_bytes)
    while data:
        try:
            data = _feed(decoder, data, out)
        except zlib.error as exc:
            raise CodingError(f"corrupt {coding} data after {out.total} decoded bytes ({exc})") from None
        if not decoder.eof:
            data = data or read(CHUNK)
            continue
        data = data or read(CHUNK)
        if data and len(data) < len(_GZIP_MAGIC):
            data += read(CHUNK)
        if data and (coding == "deflate" or not data.startswith(_GZIP_MAGIC)):
            raise CodingError(f"other bytes after the end of the {coding} data")
        if data:
            decoder = zlib.decompressobj(_GZIP)  # the next member of a multi-member gzip file
    if not decoder.eof:
        raise CodingError(f"the {coding} data is cut short (it ends before its end marker, after {out.total} decoded "
                          f"bytes)")
    return out.total


class _Capped:
    """A writer that counts the bytes it passes on and refuses (TooLarge) those that would pass the cap."""

    def __init__(self, write: Callable[[bytes], object], max_bytes: int) -> None:
        self.write = write
        self.max_bytes = max_bytes
        self.total = 0

    def __call__(self, data: bytes) -> None:
        if self.total + len(data) > self.max_bytes:
            raise TooLarge(f"it decodes to more than the limit of {self.max_bytes} bytes")
        self.write(data)
        self.total += len(data)


def _decoder(coding: str, first: bytes) -> zlib._Decompress:
    """The decompressor for a body in `coding` starting with `first`; NotInCoding when it does not start so."""
    if coding != "deflate":
        if not first.startswith(_GZIP_MAGIC):
            raise NotInCoding(f"its bytes are no {coding} data (no gzip signature)")
        return zlib.decompressobj(_GZIP)
    # zlib's 2-byte header: deflate (method 8) and a check making the pair a multiple of 31; else raw deflate.
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return zlib.decompressobj(_ZLIB)
    try:  # raw deflate has no signature: its first chunk decoding without an error stands for one
        zlib.decompressobj(_RAW).decompress(first, CHUNK)
    except zlib.error:
        raise NotInCoding("its bytes are no deflate data (neither zlib-wrapped nor raw)") from None
    return zlib.decompressobj(_RAW)


def _feed(decoder: zlib._Decompress, data: bytes, out: _Capped) -> bytes:
    """Decodes `data` into `out`, a chunk of output at a time (never more than CHUNK in memory); returns what the
    decoder has not taken: the bytes after the end of its stream, else b"" once all of `data` is in."""
    while True:
        decoded = decoder.decompress(data, CHUNK)
        if decoded:
            out(decoded)
        if decoder.eof:
            return decoder.unused_data
        data = decoder.unconsumed_tail
        if not data and len(decoded) < CHUNK:  # all taken, nothing held back: the next chunk of input is needed
            return b""
