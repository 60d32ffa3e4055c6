"""List paging as Google's API design guide does it: `page_size` (0 = the default, larger ones are cut to the
maximum, negative is an error) and an opaque `page_token` that the server made from the last row it sent.
Shared by every service that pages a list, so that tokens look and fail alike."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Protocol

from services.common.boundary import is_point_id, shown

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
# Bytes of the items of one page, at most (past its first item): half of gRPC's 32 MiB (rpc.MAX_MESSAGE_BYTES).
# Rows of the longest texts kept (a 200,000-character url and a 100,000-character error) made a page of 120 over
# it: RESOURCE_EXHAUSTED "Sent message larger than max", and no token to go past it.
PAGE_BYTES = 16 * 1024 * 1024
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


class _Sized(Protocol):
    def ByteSize(self) -> int: ...  # noqa: N802 - protobuf's name


def items_within(items: Sequence[_Sized], budget: int = PAGE_BYTES) -> int:
    """How many of `items` (protobuf messages), from the first, fit in `budget` bytes of an answer; always at
    least one, so that a page never comes back empty while items remain."""
    used = 0
    for k, item in enumerate(items):
        used += item.ByteSize() + 8  # its field tag and length in the answer: a few bytes more
        if used > budget and k > 0:
            return k
    return len(items)
