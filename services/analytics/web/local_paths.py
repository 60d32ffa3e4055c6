"""The one check of a path the page sends the browser back to (a form's `next`, the sign-in's way back): a path of
this site, never a redirect elsewhere.

A browser resolves `//evil.example/` and `/\\evil.example/` to another host, and drops tabs and line breaks
anywhere in a URL before reading it (`/\\t/evil.example` is `//evil.example`), so those are refused; so is a path
that reads that way once percent-decoded (`/%2F/evil.example`, `/%5Cevil.example`: a proxy or a later reader may
decode it once), a control character, and anything over MAX_PATH_CHARS. What is kept goes out as given, with
characters outside printable ASCII percent-encoded (a name in a query, a bidi control, a unicode slash): the
Location header and the form's hidden field then hold ASCII only, which no browser reads as another host.
The fragment is dropped: the page adds its own anchor and query (`catching_up=1`) after the path.
"""

from __future__ import annotations

from urllib.parse import unquote

from services.analytics.web.links import in_ascii

MAX_PATH_CHARS = 2000  # of a path the page goes back to; a longer one is none of the page's own
_BLANKS = str.maketrans("", "", "\t\n\r")


def _another_host(path: str) -> bool:
    """Whether a browser could read `path` as the address of another host (`//h`, `/\\h`, once it drops tabs and
    line breaks)."""
    return path.translate(_BLANKS)[:2] in ("//", "/\\")


def _not_ours(path: str) -> bool:
    """Whether `path` holds what no path of the page has as it is sent: a backslash or a control character."""
    return "\\" in path or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in path)


def local_path(value: str | None) -> str:
    """`value` as a path of this site ("/", "/review?all=1"), percent-encoded outside printable ASCII and without
    its fragment; "" when it is none (absent, not starting with one "/", another host once decoded, a control
    character, longer than MAX_PATH_CHARS)."""
    if not value or len(value) > MAX_PATH_CHARS or not value.startswith("/"):
        return ""
    # Decoded, only its start matters: a query may carry an encoded backslash or line break (`?q=%5C`) as a value
    if _another_host(value) or _not_ours(value) or _another_host(unquote(value, errors="surrogateescape")):
        return ""
    path = in_ascii(value.split("#", 1)[0])
    return path if len(path) <= MAX_PATH_CHARS else ""
