"""Input checks shared by the three services at their gRPC boundary: the shapes of ids and page tokens that
cross it, and how a caller's value appears in an error message (cut short: a 10 KB id echoed back would
make the reply itself too large). Pure functions; the servicers turn a refusal into a status code."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable

SHOWN_CHARS = 80
# Characters of one text a caller gives (a manifest cell, a StartIngest row's url, a RecordVideo error): the
# manifest's cell limit (services/ingest/manifest.py MAX_CELL_CHARS), below the csv module's own (131,072).
MAX_TEXT_CHARS = 100_000
# Characters of a recorded row's url and location (RecordVideo, and the keys GetVideo and UpdatePerformance
# look up), above the longest ingest makes of a manifest cell of MAX_TEXT_CHARS. The url is the cell with its
# secrets hidden (url_secrets.secrets_hidden: a 5-character `&se=x` becomes `&se=***`, 1.4 times as long); the
# location is an http(s) URL with each secret value a digest (`&se=x` becomes 43 characters, 8.6 times as
# long: 860,000 at most) or a local path made absolute against StartIngest's base_dir (200,001 at most).
MAX_URL_CHARS = 200_000
MAX_LOCATION_CHARS = 1_000_000
# Ids as the services make them: a video id is the first 16 hex digits of the SHA-256 of its bytes; an
# influencer id is "inf_" and 10 hex digits (services/identity/matching.py), a split adds a short suffix.
VIDEO_ID = re.compile(r"[0-9a-f]{16}")
INFLUENCER_ID = re.compile(r"inf_[0-9a-f]{10}[0-9a-z]{0,8}")


def shown(value: str | bytes, limit: int = SHOWN_CHARS) -> str:
    """`value` quoted as an error message may show it: whole when at most `limit` characters, else its first
    `limit` characters and its length (`'abc…' (10000 chars)`)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} chars)"


def escaped(text: str, hidden: Callable[[str], bool] | None = None) -> str:
    """`text` on one line, as a log line or an error message shows it: every character that is not printable
    (str.isprintable: line breaks and other controls, format characters such as bidi overrides and joiners, blanks
    but the space) written as its Python escape (`\\n`, `\\x1b`, `\\u202e`), everything printable as it is.

    `hidden` replaces the test of which characters are escaped: a name printed on a terminal keeps its joiners and
    tag sequences, which Persian, Indic scripts and emoji flags need (name_text.for_terminal), and escapes the
    invisible letters names drop (the Hangul fillers), which are printable. One escaper, two choices of characters:
    a log line is read by tools and by operators, a name by the analyst."""
    escape = hidden or (lambda c: not c.isprintable())
    if not any(map(escape, text)):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if escape(c) else c for c in text)


def rpc_status(exc: BaseException) -> str:
    """A gRPC error as `STATUS: details` (its str() is five lines with a debug string); "" for any other
    exception."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    return f"{code().name}: {details()}" if callable(code) and callable(details) else ""


def error_reason(exc: BaseException) -> str:
    """An exception as a message shows it: a gRPC error as `STATUS: details` (rpc_status), any other as
    `Type: text`."""
    return rpc_status(exc) or f"{type(exc).__name__}: {exc}"


def is_video_id(value: str) -> bool:
    """True for a well-formed video id (16 lower-case hex digits)."""
    return VIDEO_ID.fullmatch(value) is not None


def is_influencer_id(value: str) -> bool:
    """True for a well-formed influencer id (`inf_` + 10 hex digits + at most 8 of [0-9a-z])."""
    return INFLUENCER_ID.fullmatch(value) is not None


def is_point_id(value: str) -> bool:
    """True for a face-store point id as the store writes it: a UUID in its canonical, lower-case form."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def undefined_enum_values(values: Iterable[int], defined: Iterable[int]) -> list[int]:
    """The values that no member of an enum stands for (proto3 enums are open: -1 arrives as -1)."""
    known = set(defined)
    return [v for v in values if v not in known]


def nul_field(fields: Iterable[tuple[str, str]]) -> str | None:
    """The name of the first of `fields` (name, text) whose text holds a NUL character, which no store of ours
    keeps (PostgreSQL refuses it in any text column); None when none does."""
    return next((name for name, text in fields if "\x00" in text), None)


def long_field(fields: Iterable[tuple[str, str, int]]) -> str | None:
    """`name is longer than N characters (L)` for the first of `fields` (name, text, limit) whose text is
    longer than its limit; None when none is."""
    return next((f"{name} is longer than {limit:,} characters ({len(text):,})"
                 for name, text, limit in fields if len(text) > limit), None)


def brief(message: str, limit: int = 4 * SHOWN_CHARS) -> str:
    """A domain error's text cut to `limit` characters for a status message (it may quote a caller's value
    whole, as a manifest URL)."""
    return message if len(message) <= limit else message[:limit] + "…"


def capped(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` when at most `limit` characters, else its start and a marker saying it was cut, `limit` characters
    in all (`... [cut to 100,000 characters of 1,000,009]`): for a text whose record must be kept whole otherwise
    (a failed row's error), where refusing it would lose the record."""
    if len(text) <= limit:
        return text
    marker = f"… [cut to {limit:,} characters of {len(text):,}]"
    return text[:limit - len(marker)] + marker
