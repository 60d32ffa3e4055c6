"""List paging as Google's API design guide does it: `page_size` (0 = the default, larger ones are cut to the
maximum, negative is an error) and an opaque `page_token` that the server made from the last row it sent.
Shared by every service that pages a list, so that tokens look and fail alike."""

from __future__ import annotations

import base64
import binascii
import re

from services.common.boundary import is_point_id, shown

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
_PREFIX = "p1:"  # a version mark: a token of some other shape is refused, never misread
_MAX_TOKEN_CHARS = 64
_MAX_POSITION = 2**63 - 1  # the largest SQLite rowid and PostgreSQL bigint: a larger one overflowed the driver


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
    if len(token) > _MAX_TOKEN_CHARS:  # ours are ~12 characters; never decode kilobytes
        raise ValueError(f"invalid page_token {shown(token)}")
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError(f"invalid page_token {shown(token)}") from None
    number = text.removeprefix(_PREFIX)
    if number == text or not number.isdigit() or not 0 < int(number) <= _MAX_POSITION:
        raise ValueError(f"invalid page_token {shown(token)}")
    return int(number)


def key_token(token: str, key: re.Pattern[str]) -> str:
    """A token that is the last key of the previous page (a list ordered by key, e.g. influencer ids):
    `token` itself when it is empty (the first page) or matches `key` whole, else ValueError."""
    if token and key.fullmatch(token) is None:
        raise ValueError(f"invalid page_token {shown(token)}")
    return token


def point_token(token: str) -> str:
    """A token that is the face store's own scroll offset (a point id, a canonical UUID): `token` itself
    when it is empty (the first page) or such an id, else ValueError; the store never sees anything else."""
    if token and not is_point_id(token):
        raise ValueError(f"invalid page_token {shown(token)}")
    return token
