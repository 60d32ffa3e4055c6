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
MAX_MEMBERS = 100_000  # gzip members of one body: BGZF (64 KiB each) writes 8,192 for 512 MiB
_FIRST_PIECE = 64  # bytes of input first given to a member's decoder (see _member)
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
    file, as `gzip -d` does, and may end in zero bytes (a tape or tar block's padding, which `gzip -d` ignores).
    NotInCoding when the first bytes are not in `coding` (nothing written); TooLarge past `max_bytes` decoded bytes,
    before they are written; CodingError for a body cut short, corrupt, of more than MAX_MEMBERS members, or
    followed by other bytes."""
    source = _Source(read)
    if not source.available():
        return 0
    decoder = _decoder(coding, bytes(source.buf))
    out = _Capped(write, max_bytes)
    members = 1
    while True:
        try:
            _member(decoder, source, out)
        except zlib.error as exc:
            raise CodingError(f"corrupt {coding} data after {out.total} decoded bytes ({exc})") from None
        if not decoder.eof:
            raise CodingError(f"the {coding} data is cut short (it ends before its end marker, after {out.total} "
                              f"decoded bytes)")
        after = source.head(len(_GZIP_MAGIC))
        if not after:
            return out.total
        if coding != "deflate" and after.startswith(_GZIP_MAGIC):
            members += 1
            if members > MAX_MEMBERS:
                raise CodingError(f"the {coding} data holds more than {MAX_MEMBERS} members (files joined end to end: "
                                  f"a hostile or broken file?)")
            decoder = zlib.decompressobj(_GZIP)  # the next member of a multi-member gzip file
            continue
        if coding != "deflate" and after[0] == 0 and source.only_zeros_left():
            return out.total
        raise CodingError(f"other bytes after the end of the {coding} data")


class _Source:
    """The body, read a chunk at a time, with the position in the chunk held: the bytes after a gzip member are
    found by position, never copied (a copy of the chunk's rest at each member's end took minutes of a core for
    a body of thousands of tiny members)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self.read = read
        self.buf = b""
        self.pos = 0

    def available(self) -> int:
        """The bytes of the current chunk not yet taken, a new chunk read when none is left; 0 at the body's end."""
        if self.pos >= len(self.buf):
            self.buf, self.pos = self.read(CHUNK), 0
        return len(self.buf) - self.pos

    def view(self, size: int) -> memoryview:
        return memoryview(self.buf)[self.pos:self.pos + size]

    def advance(self, size: int) -> None:
        self.pos += size

    def head(self, size: int) -> bytes:
        """The next `size` bytes (fewer at the body's end), not taken: a signature split between two reads is
        joined."""
        while self.available() and len(self.buf) - self.pos < size:
            more = self.read(CHUNK)
            if not more:
                break
            self.buf, self.pos = self.buf[self.pos:] + more, 0
        return self.buf[self.pos:self.pos + size]

    def only_zeros_left(self) -> bool:
        """Whether the rest of the body is zero bytes alone (taken, when it is)."""
        while self.available():
            if self.view(len(self.buf)).tobytes().strip(b"\0"):
                return False
            self.pos = len(self.buf)
        return True


def _member(decoder: zlib._Decompress, source: _Source, out: _Capped) -> None:
    """Feeds `source` to `decoder` until its stream ends (decoder.eof) or the body does, decoding into `out` a chunk
    of output at a time (never more than CHUNK in memory). The input is given in pieces that start small and double
    while the stream goes on, so that what zlib copies as unused at the stream's end is about the stream's own
    size, however many short members follow."""
    size = _FIRST_PIECE
    while not decoder.eof:
        if not source.available():
            while not decoder.eof and (decoded := decoder.decompress(b"", CHUNK)):  # output held back by the cap
                out(decoded)
            return
        piece = source.view(size)
        decoded = decoder.decompress(piece, CHUNK)
        if decoded:
            out(decoded)
        left = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
        source.advance(len(piece) - len(left))
        size = min(size * 2, CHUNK)


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
