"""The scheme of a URL as the services read it (ingest's fetch, analytics' migrations): one rule for all."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def has_scheme(url: str) -> str | None:
    """The lower-case scheme of an absolute URL, or None (a path, or a one-letter Windows drive)."""
    m = _SCHEME.match(url)
    if m is None or len(m.group()) == 2:
        return None
    return m.group()[:-1].lower()


def is_scheme_relative(url: str) -> bool:
    """Whether `url` is a link written without its scheme (`//cdn.example.com/v.mp4`: RFC 3986's network-path
    reference, as links are copied from a page's source): two slashes, then a host. Three slashes or more start a
    path (`///videos/a.mp4`)."""
    return url.startswith("//") and url[2:3] not in ("", "/", "\\")
