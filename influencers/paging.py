"""List paging as Google's API design guide does it: `page_size` (0 = the default, larger ones are cut to the
maximum, negative is an error) and an opaque `page_token` that the server made from the last row it sent.
Shared by every service that pages a list, so that tokens look and fail alike."""

from __future__ import annotations

import base64
import binascii

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
_PREFIX = "p1:"  # a version mark: a token of some other shape is refused, never misread


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """Rows to send in a page: `default` for 0, at most `maximum`. ValueError for a negative size."""
    if requested < 0:
        raise ValueError(f"page_size must not be negative (got {requested})")
    return min(requested or default, maximum)


def encode_token(position: int) -> str:
    """The token of the page that starts after `position` (e.g. the last SQLite rowid sent; > 0)."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode()


def decode_token(token: str) -> int:
    """The position a token stands for; 0 for the empty token (the first page). ValueError for anything
    that `encode_token` did not make."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValueError(f"invalid page_token {token!r}") from exc
    number = text.removeprefix(_PREFIX)
    if number == text or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"invalid page_token {token!r}")
    return int(number)
