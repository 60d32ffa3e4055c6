"""The report page's Content-Security-Policy: what a page of the site may load and run, so that markup slipped
past the templates' escaping (a name, a URL, a query) runs no script of its own.

Scripts run only with the nonce of their answer (the pages' few inline scripts carry it: `csp_nonce()` in the
templates); styles, images, fetches and forms stay on the page's own origin; a video plays from here or from
the http(s) link its manifest row gave (the browser fetches it itself, media.py); no plugin, no <base>, no
frame of the page anywhere. The video player's own file answer keeps its stricter sandbox (file_answer.py).

Pure: no Flask here (session.py sets the header).
"""

from __future__ import annotations

import secrets

# Images: the faces and the chart, and the page's empty `data:,` icon (base.html).
_POLICY = ("default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
           "media-src 'self' http: https:; object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")


def new_nonce() -> str:
    """A fresh nonce for one answer (128 random bits, URL-safe base64)."""
    return secrets.token_urlsafe(16)


def policy(nonce: str) -> str:
    """The Content-Security-Policy header of an answer whose inline scripts carry `nonce`."""
    return _POLICY.format(nonce=nonce)
