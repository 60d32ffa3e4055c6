"""The only URLs the page links to: http(s) with no blanks or control characters. A `javascript:` or `data:`
URL from a manifest stays text."""

from __future__ import annotations

import re

_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)


def is_http_url(value: object) -> bool:
    """True for an http(s) URL with no blanks or control characters."""
    return isinstance(value, str) and _HTTP_URL.fullmatch(value) is not None
