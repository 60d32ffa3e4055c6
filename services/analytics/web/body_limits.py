"""How large a request body the page takes, by its path: one rule for the page (session._bound_body) and for the
server that reads the body before the page runs (influencers/page_bodies.py).

Only the enrol form carries photos: MAX_UPLOAD_BYTES there. Every other form, the JSON API and sign-in carry text,
FORM_BYTES at most (a name of 200 characters, a "None of these" of 100 pairs, a token). Both limits were 25 MB on
every path, and waitress spools a body past 512 KiB to a temporary file while it is read: 50 connections sending
25 MB slowly to /signin, which needs no session, held 1.2 GB of disk.
"""

from __future__ import annotations

MAX_PHOTOS = 10
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # the enrol form in all: a few big photos, or ten smaller ones
FORM_BYTES = 500_000  # any other body (the page's MAX_FORM_MEMORY_SIZE too: werkzeug's 500 kB a text field)
FORM_PARTS = 1_000  # fields of a form (werkzeug's max_form_parts)
UPLOAD_PATH = "/enrol"
_MB = 1024 * 1024


def body_limit(path: str) -> int:
    """The bytes of body a request for `path` (as routed, no query) may carry."""
    return MAX_UPLOAD_BYTES if path == UPLOAD_PATH else FORM_BYTES


def too_large(path: str) -> str:
    """Why a body for `path` over body_limit(path) is refused, naming the limits."""
    if path == UPLOAD_PATH:
        return (f"the form sent is larger than the page takes: at most {MAX_UPLOAD_BYTES // _MB} MB in all "
                f"({MAX_PHOTOS} photos of {MAX_PHOTO_BYTES // _MB} MB at most), {FORM_PARTS:,} fields, and "
                f"{FORM_BYTES // 1000} kB of text; send fewer or smaller photos")
    return (f"the form sent is larger than the page takes: at most {FORM_BYTES // 1000} kB in all and "
            f"{FORM_PARTS:,} fields here (photos go to Enrol, up to {MAX_UPLOAD_BYTES // _MB} MB)")
