"""A response as a file to save: the Content-Disposition of a download (RFC 6266), with a file name safe on any
system and, when it is not plain ASCII, its UTF-8 form too (RFC 8187, was 5987: `filename*=UTF-8''…`, beside an
ASCII `filename` for the clients that read no other). The page's own links ask for the download (`?download=1` on
a JSON table); the same address without it stays inline, as programs read it."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response, request

# What a file name keeps besides letters and digits of any script; every other character (a path separator, a
# quote, a control, a blank) becomes "_", so the name is one file in the folder the browser saves to.
_KEPT = "._-+"
# RFC 8187's attr-char beside ALPHA / DIGIT: what `filename*` may carry unencoded
_ATTR_CHARS = "!#$&+-.^_`|~"


def safe_filename(name: str) -> str:
    """`name` as a file name: NFC, letters and digits of any script and `._-+` kept, anything else "_", no dot or
    blank at either end (a hidden or a Windows-trimmed name), "download" when nothing is left."""
    kept = "".join(c if c.isalnum() or c in _KEPT else "_" for c in unicodedata.normalize("NFC", name))
    return kept.strip("._") or "download"


def content_disposition(name: str) -> str:
    """The Content-Disposition value that saves the response as `name` (safe_filename of it): `attachment;
    filename="…"`, and `filename*=UTF-8''…` with the name percent-encoded when it is not ASCII (the plain
    `filename` is then its accents dropped, others "_")."""
    filename = safe_filename(name)
    if filename.isascii():
        return f'attachment; filename="{filename}"'
    plain = "".join(c if c.isascii() else "_" for c in unicodedata.normalize("NFKD", filename)
                    if not unicodedata.combining(c))
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe=_ATTR_CHARS)}"


def asked_to_download() -> bool:
    """Whether this request asked for the file to be saved (`?download=1`), as the page's download links do."""
    return request.args.get("download", "") in ("1", "true", "yes")


def as_download(response: Response, name: str) -> Response:
    """`response` saved as `name` when the request asked for a download (asked_to_download), else as it is."""
    if asked_to_download():
        response.headers["Content-Disposition"] = content_disposition(name)
    return response
