"""HTTP/1.1 response framing, strictly: the status line, header blocks, Content-Length and chunk sizes.

Pure functions on bytes; anything a careful client would not accept raises BadResponse with a message in
a user's words. Limits are in bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEAD_BYTES = 64 * 1024  # status line and headers together (all interim 1xx heads included)
MAX_HEADERS = 100
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_CONTENT_RANGE = re.compile(r"bytes[ \t]+([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18}|\*)", re.IGNORECASE)


# What a refusing status means for the row, in a user's words (others by their code and standard name).
_STATUS_WORDS = {
    401: "the server asks for a login: give a link that opens without one",
    403: "forbidden: a private video, or a signed link that expired?",
    404: "not found",
    410: "gone: the video was removed",
}
# Retry-After (RFC 9110): seconds, or an HTTP date; anything else is not shown.
_RETRY_AFTER = re.compile(r"[0-9]{1,9}|[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT")


def status_problem(status: int, retry_after: str | None) -> str:
    """Why an answer of `status` (not 200, not a redirect) gives no video, in words: what the common refusals
    mean, and for 429 and 5xx that the manifest may be run again, after the wait the server's Retry-After
    header (`retry_after`) asks for when it states one."""
    if status in _STATUS_WORDS:
        return f"HTTP {status} ({_STATUS_WORDS[status]})"
    if status != 429 and not 500 <= status <= 599:
        try:
            return f"HTTP {status} ({HTTPStatus(status).phrase.lower()})"
        except ValueError:  # a code of no standard's
            return f"HTTP {status}"
    what = "too many requests" if status == 429 else "the server is failing or overloaded"
    wait = (retry_after or "").strip()
    if not _RETRY_AFTER.fullmatch(wait):
        return f"HTTP {status} ({what}: run the manifest again later)"
    until = f"wait {wait} s" if wait.isdigit() else f"wait until {wait}"
    return f"HTTP {status} ({what}: the server asks to {until}; run the manifest again then)"


@dataclass(frozen=True)
class ByteRange:
    """The bytes `first` to `last` (both included, from 0) of a file of `complete` bytes, as a 206 answer's
    Content-Range states them."""

    first: int
    last: int
    complete: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def partial_range(head: Head, start: int, complete: int | None) -> ByteRange:
    """The byte range a 206 (Partial Content) answer holds, for a request of the file from byte `start` (0: the
    whole file, asked for without a Range, as some servers and CDNs answer every GET with a 206), of `complete`
    bytes as an earlier part stated (None for the first answer). BadResponse, naming what the answer holds, for
    no single range, a range of unknown length (`/*`), one that is not inside the file, one that starts
    elsewhere than `start` or states another file length."""
    asked = "where the whole file was asked for" if start == 0 else f"where bytes {start}- were asked for"
    values = head.all("content-range")
    m = _CONTENT_RANGE.fullmatch(values[0].strip(" \t")) if len(values) == 1 else None
    if m is None:
        shown = ", ".join(values)[:60]
        what = f"no single byte range (Content-Range {shown!r})" if shown else "no Content-Range"
        raise BadResponse(f"HTTP 206 (partial content) with {what}, {asked}")
    first, last, length = m.groups()
    sent = f"HTTP 206 (partial content): the server sent bytes {first}-{last} of {length}"
    if length == "*":
        raise BadResponse(f"{sent}, a part of a file of unknown length, {asked}")
    got = ByteRange(int(first), int(last), int(length))
    if got.last < got.first or got.last >= got.complete:
        raise BadResponse(f"{sent}, a range outside the file")
    if got.first != start:
        raise BadResponse(f"{sent}, a part starting at byte {got.first}, {asked}")
    if complete is not None and got.complete != complete:
        raise BadResponse(f"{sent}, where its first part stated {complete} bytes (the file changed on the server?)")
    return got


class BadResponse(Exception):
    """The server's answer is malformed or not acceptable; the message says why in a user's words."""


@dataclass
class Head:
    """A response's status code and headers; header names are lower case, values in arrival order."""

    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self.headers.get(name, [])


def strip_eol(line: bytes) -> bytes:
    """A line without its CRLF (or bare LF) ending."""
    if line.endswith(b"\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(b"\n") else line


def parse_status_line(line: bytes) -> int:
    """The status code of an `HTTP/1.x NNN reason` line (ending included or not)."""
    m = _STATUS_LINE.fullmatch(strip_eol(line))
    if m is None:
        shown = strip_eol(line)[:40].decode("latin-1").encode("unicode_escape").decode("ascii")
        raise BadResponse(f"malformed answer from the server (status line {shown!r})")
    return int(m.group(1))


def parse_header_lines(lines: list[bytes], status: int) -> Head:
    """Builds a Head from header lines (endings included or not, the blank line excluded)."""
    if len(lines) > MAX_HEADERS:
        raise BadResponse(f"too many headers (more than {MAX_HEADERS})")
    head = Head(status)
    for raw in lines:
        line = strip_eol(raw)
        if line[:1] in (b" ", b"\t"):
            raise BadResponse("malformed header (folded line)")
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise BadResponse("malformed header line")
        value = value.strip(b" \t")
        if _FIELD_VALUE.fullmatch(value) is None:
            shown = name.decode("ascii") if len(name) <= 60 else f"{name[:57].decode('ascii')}..."  # up to 64 kB
            raise BadResponse(f"malformed header {shown!r} (control character)")
        head.headers.setdefault(name.decode("ascii").lower(), []).append(value.decode("latin-1"))
    return head


def content_length(head: Head, max_bytes: int) -> int | None:
    """The declared body length in bytes, None when not declared.

    Every Content-Length value (repeated headers and comma lists alike) must be the same plain decimal
    number; a length over `max_bytes` is refused before any byte of the body is read.
    """
    values = [v.strip(" \t") for header in head.all("content-length") for v in header.split(",")]
    if not values:
        return None
    if any(not v.isascii() or not v.isdigit() for v in values):
        raise BadResponse(f"invalid Content-Length {', '.join(head.all('content-length'))[:60]!r}")
    # Compared as digits, leading zeros dropped: Python refuses to make an int of over 4,300 digits (a server sending
    # 5,000 failed the row as "fetch failed (ValueError: Exceeds the limit (4300 digits) ...)").
    numbers = {v.lstrip("0") or "0" for v in values}
    if len(numbers) > 1:
        shown = sorted(_shown_number(n) for n in numbers)
        raise BadResponse(f"conflicting Content-Length values [{', '.join(shown)}]")
    (number,) = numbers
    if len(number) > len(str(max_bytes)) or int(number) > max_bytes:
        raise BadResponse(f"{_shown_number(number)} bytes is more than the limit of {max_bytes}")
    return int(number)


def _shown_number(digits: str) -> str:
    """A decimal number of any length for a message: itself up to 20 digits, else its first 20 and how many."""
    return digits if len(digits) <= 20 else f"{digits[:20]}... ({len(digits)} digits)"


def is_chunked(head: Head) -> bool:
    """Whether the body is chunked; any other transfer coding, or chunked next to Content-Length, is refused."""
    codings = [c.strip(" \t").lower() for header in head.all("transfer-encoding") for c in header.split(",")]
    codings = [c for c in codings if c]
    if not codings:
        return False
    if codings != ["chunked"]:
        raise BadResponse(f"unsupported Transfer-Encoding {', '.join(codings)[:60]!r}")
    if head.all("content-length"):
        raise BadResponse("both Content-Length and Transfer-Encoding (ambiguous length)")
    return True


def parse_chunk_size(line: bytes) -> int:
    """The size in bytes of the chunk announced by a chunk-size line (extensions ignored)."""
    m = _CHUNK_SIZE.fullmatch(strip_eol(line))
    if m is None:
        shown = strip_eol(line)[:40].decode("latin-1").encode("unicode_escape").decode("ascii")
        raise BadResponse(f"bad chunk size {shown!r} in chunked body")
    return int(m.group(1), 16)
