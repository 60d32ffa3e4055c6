"""A row's key in analytics (its location: where its bytes were read): no secret, at a length every engine indexes.

A link's secrets (a signature, token or key in its query, a token in its path, a user name and password) are
kept as their digests (url_secrets.secrets_keyed): the key is returned by GetVideo and ListVideos and kept in
the database file, where no secret may be; two links differing in a secret stay two rows.
PostgreSQL's btree keeps no key past ~2,700 bytes: a longer location (a long path, a link with a long query)
was refused there with INTERNAL, and its row lost. A location past MAX_KEY_BYTES (UTF-8) is kept as its first
characters and the SHA-256 of the whole (`#sha256=` and 64 hex digits): still read by a person, still one key
per location. Ingest makes its locations so, and analytics keys every row and lookup so, whoever calls it;
a key is its own key. A local path's whole is found again from its shortened key and the manifest's cell
(whole_path), for the page's player.
"""

from __future__ import annotations

import hashlib
import os
from urllib.parse import unquote, urlsplit

from services.common.url_scheme import has_scheme
from services.common.url_secrets import secrets_keyed

MAX_KEY_BYTES = 1024
_MARK = "#sha256="
_HEAD_BYTES = MAX_KEY_BYTES - len(_MARK) - 64
# Where a head cut inside a secret's digest is cut back to (before the piece's value, or the piece).
_PIECE_ENDS = "/?#&;,~=@"


def location_key(location: str) -> str:
    """`location` with its secrets digested (secrets_keyed), when its UTF-8 form is then at most MAX_KEY_BYTES;
    else its head (whole characters) and the SHA-256 of all of it. Surrogates (from a caller's bytes) are
    digested as they are, never refused."""
    keyed = secrets_keyed(location)
    raw = keyed.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_KEY_BYTES:
        return keyed
    return f"{cut_back(raw[:_HEAD_BYTES].decode('utf-8', 'ignore'))}{_MARK}{hashlib.sha256(raw).hexdigest()}"


def cut_back(head: str) -> str:
    """A shortened key's `head` cut back until it is its own key: a cut inside a digest would be digested
    again, so the piece it fell in goes (to the last of _PIECE_ENDS)."""
    while secrets_keyed(head) != head:
        head = head[:max(head.rfind(c) for c in _PIECE_ENDS)]
    return head


def last_piece_dropped(head: str) -> str:
    """`head` without its last piece (from the last of _PIECE_ENDS on): what of a cut head is surely whole."""
    return head[:max(head.rfind(c) for c in _PIECE_ENDS)]


def key_parts(key: str) -> tuple[str, str]:
    """The (head, SHA-256 hex digest) of a key location_key shortened; ("", "") for any other key."""
    head, mark, digest = key.rpartition(_MARK)
    if not mark or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return "", ""
    return head, digest


def shortened_key(head: str, digest: str) -> str:
    """The key location_key makes of a location whose head is `head` and whose digest is `digest`."""
    return f"{head}{_MARK}{digest}"


def whole_path(key: str, cell: str) -> str | None:
    """The local path a shortened `key` stands for, found from `cell`, the row's manifest cell as recorded: an
    absolute path (`~/...`, a `file:` URL), or a path relative to the manifest's folder, which the key's head
    begins with (each of the head's `/` is tried as that folder's end). Checked against the key's digest, so
    never another file; None when `key` is not shortened or nothing fits (a cell with its secrets hidden, a
    symlink that resolving the path went through)."""
    head, digest = key_parts(key)
    if not head or not cell or has_scheme(head) is not None:
        return None
    if has_scheme(cell) == "file":
        where = urlsplit(cell)
        candidates = [unquote(where.path)] if where.netloc in ("", "localhost") else []
    elif cell.startswith(("/", "~")):
        candidates = [os.path.expanduser(cell)]
    else:
        candidates = [os.path.normpath(f"{head[:end]}/{cell}") for end in range(len(head), -1, -1)
                      if head[end:end + 1] in ("/", "")]
    return next((path for path in candidates if path.startswith(head) and location_key(path) == key), None)
