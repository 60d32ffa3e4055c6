"""The only URLs the page links to: http(s) with no blanks or control characters. A `javascript:` or `data:`
URL from a manifest stays text. A link's address is the URL as given, percent-encoded outside printable ASCII
(`href`): the page's Jinja finalize drops bidi controls from printed text (bidi.py), and a link to
`https://cdn.example/clip\u202e4pm.mov` that lost its control pointed at another file."""

from __future__ import annotations

import re
from urllib.parse import quote

from markupsafe import Markup, escape

from services.common.host_doubts import ascii_form_if_doubtful

_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
# Kept as they are: printable ASCII but the space, quotes, angle brackets, backslash, `^`, backtick, braces and the
# bar (`%` too, so that a URL percent-encoded already is not encoded twice): what a browser itself sends as given.
_KEPT = "!#$%&'()*+,/:;=?@[]~-._"


def is_http_url(value: object) -> bool:
    """True for an http(s) URL with no blanks or control characters."""
    return isinstance(value, str) and _HTTP_URL.fullmatch(value) is not None


def in_ascii(address: str) -> str:
    """`address` with every character outside printable ASCII (a bidi control, a letter of another script, a lone
    surrogate) and the space, quotes and angle brackets percent-encoded as UTF-8, the rest as given: the address a
    browser itself would request, in characters no reader of a header or an attribute changes."""
    return quote(address, safe=_KEPT, errors="surrogatepass")


def href(url: str) -> Markup:
    """`url` for an `href` or `src` attribute: in_ascii, then escaped for HTML. Markup, so that the finalize leaves
    it as it is: the address the browser follows is the value given; only the link's text loses its bidi
    controls. A backslash in an http(s) link's path is a `/`, as a browser reads it in a link typed in and as ingest
    fetches it (was: sent `%5C`, so that the link and the player opened `/clips%5Ca.mp4`, not the file analysed)."""
    return Markup(escape(in_ascii(_path_slashes(url))))


_HOST_THEN_PATH = re.compile(r"(?i)(https?://[^/\\?#]*)([^?#]*)")


def _path_slashes(url: str) -> str:
    """`url` with the backslashes of an http(s) path as `/`; as given when a backslash stands in or before its host
    (ingest refuses it) or it is no http(s) link."""
    m = _HOST_THEN_PATH.match(url)
    if m is None or "\\" not in m.group(2) or m.group(2).startswith("\\"):
        return url
    return m.group(1) + m.group(2).replace("\\", "/") + url[m.end():]


# The host of an http(s) link as written: after the scheme and any user name, up to a port, path, query or fragment.
_HOST = re.compile(r"(?i)(https?://(?:[^/\\?#@]*@)?)([^/\\?#:\[\]]+)")


def shown_url(url: object) -> object:
    """A URL as the page prints it: an http(s) link whose host mixes scripts or passes for another ASCII name
    (`https://pаypal.com/v.mp4`, a Cyrillic `а`) with that host in its IDNA ASCII form
    (`https://xn--pypal-4ve.com/v.mp4`), as a browser's address bar shows it, so that the analyst is not fooled;
    any other value as given (a local path, a plain Unicode host such as `bücher.example`)."""
    if not isinstance(url, str):
        return url
    m = _HOST.match(url)
    if m is None:
        return url
    host = m.group(2)
    shown = ascii_form_if_doubtful(host)
    return url if shown == host else m.group(1) + shown + url[m.end():]
