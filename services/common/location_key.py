"""A row's key in analytics (its location: where its bytes were read) at a length every engine indexes.

PostgreSQL's btree keeps no key past ~2,700 bytes: a longer location (a long path, a link with a long query)
was refused there with INTERNAL, and its row lost. A location past MAX_KEY_BYTES (UTF-8) is kept as its first
characters and the SHA-256 of the whole (`#sha256=` and 64 hex digits): still read by a person, still one key
per location. Ingest makes its locations so, and analytics keys every row and lookup so, whoever calls it;
a key at or under the bound, this form included, is its own key.
"""

from __future__ import annotations

import hashlib

MAX_KEY_BYTES = 1024
_MARK = "#sha256="
_HEAD_BYTES = MAX_KEY_BYTES - len(_MARK) - 64


def location_key(location: str) -> str:
    """`location` when its UTF-8 form is at most MAX_KEY_BYTES; else its head (whole characters) and the
    SHA-256 of all of it. Surrogates (from a caller's bytes) are digested as they are, never refused."""
    raw = location.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_KEY_BYTES:
        return location
    head = raw[:_HEAD_BYTES].decode("utf-8", "ignore")
    return f"{head}{_MARK}{hashlib.sha256(raw).hexdigest()}"
