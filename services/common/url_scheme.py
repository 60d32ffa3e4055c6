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
