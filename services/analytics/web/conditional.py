"""Conditional and range requests of one file, as RFC 9110 (§13, §14) has them: pure functions over the request's
headers and the file's validators; media.py answers with them.

Werkzeug's `make_conditional` answered 416 for a suffix longer than the file, for several ranges and for a unit
it does not know (which must be ignored), let a Range skip If-Match and If-None-Match, kept the whole file as
the body of a 412, and took an If-Range date of any later time as a match. Here: preconditions first (412, 304),
then one byte range or the whole file; an If-Range holds only for the strong ETag or the exact Last-Modified.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from werkzeug.http import parse_date, parse_etags

UNSATISFIABLE: Final = "unsatisfiable"  # a valid range wholly past the end of the file: 416
_RANGE = re.compile(r"([0-9]*)-([0-9]*)")
_DIGITS = 20  # a position of more digits is past any file


@dataclass(frozen=True)
class Validators:
    """What identifies one version of a file: a strong ETag (unquoted) and its Last-Modified (whole seconds)."""

    etag: str
    modified: datetime


def validators_of(name: str, info: os.stat_result) -> Validators:
    """The validators of the file `info` stats, served under `name`: the ETag changes with the file's device,
    inode, size or modification time to the nanosecond (a file moved in within the same second is another)."""
    version = f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}".encode()
    return Validators(f"{name}-{hashlib.sha256(version).hexdigest()[:16]}",
                      datetime.fromtimestamp(int(info.st_mtime), UTC))


def precondition_status(headers: Mapping[str, str], file: Validators) -> int | None:
    """412 when If-Match (else If-Unmodified-Since) fails, 304 when If-None-Match (else If-Modified-Since) says
    the client has this version; None to answer (RFC 9110 §13.2.2, for GET and HEAD)."""
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not parse_etags(if_match).contains(file.etag):  # strong comparison; "*" matches
            return 412
    elif (since := parse_date(headers.get("If-Unmodified-Since"))) is not None and file.modified > since:
        return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if parse_etags(if_none_match).contains_weak(file.etag):
            return 304
    elif (since := parse_date(headers.get("If-Modified-Since"))) is not None and file.modified <= since:
        return 304
    return None


def range_applies(headers: Mapping[str, str], file: Validators) -> bool:
    """Whether a Range is to be honoured: no If-Range, or one naming this version exactly (the strong ETag, or
    the Last-Modified date itself, not any later date)."""
    value = headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"'):
        return value == f'"{file.etag}"'
    date = None if value.startswith("W/") else parse_date(value)
    return date is not None and date == file.modified


def requested_range(header: str | None, length: int) -> tuple[int, int] | str | None:
    """(start, stop) of the one byte range `header` asks of `length` bytes; UNSATISFIABLE when it starts past the
    end (or is the empty suffix `-0`); None when the whole file is the answer: no header, another unit, an
    invalid range, several ranges (a server may ignore those), or an empty file."""
    if not header or length <= 0:
        return None
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    parts = [p for p in (p.strip(" \t") for p in spec.split(",")) if p]  # empty list elements are allowed
    match = _RANGE.fullmatch(parts[0]) if len(parts) == 1 else None
    if match is None or not any(match.groups()):
        return None
    first_digits, last_digits = (_significant(g) for g in match.groups())
    if not first_digits:  # a suffix: the last bytes, all of them when the file is shorter
        suffix = _position(last_digits)
        return UNSATISFIABLE if suffix == 0 else (max(0, length - suffix), length)
    if last_digits and _order(last_digits) < _order(first_digits):
        return None
    first = _position(first_digits)
    if first >= length:
        return UNSATISFIABLE
    return first, length if not last_digits else min(_position(last_digits) + 1, length)


def _significant(digits: str) -> str:
    """`digits` without leading zeros ("0" for zeros alone, "" for none): `000…0001` is byte 1, however long."""
    return (digits.lstrip("0") or "0") if digits else ""


def _order(digits: str) -> tuple[int, str]:
    """A key ordering significant digit strings by value, of any length (int() refuses over 4,300 digits)."""
    return len(digits), digits


def _position(digits: str) -> int:
    """The value of significant `digits`, capped past any file (a position of over _DIGITS digits)."""
    return int(digits) if len(digits) <= _DIGITS else 10**_DIGITS
