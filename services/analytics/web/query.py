"""The pages' numeric query parameters, read one way: a parameter given empty (`?from=`, as a form with a
cleared field sends it) is the parameter absent; a repeated one counts by its first value, as Flask reads
every other; anything but a whole number from 0 is a 400 naming the parameter and what it means."""

from __future__ import annotations

from flask import abort, request

from services.common.boundary import brief

MAX_DIGITS = 9  # beyond any list the page shows; int() of a 10 kB string is never tried


def whole_number(name: str, meaning: str, default: int = 0) -> int:
    """`?name=` as a whole number from 0; `default` when absent or empty. `meaning` says what it counts, for
    the error ("the place of a video in the list")."""
    value = request.args.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS):
        abort(400, description=f"?{name}= is {meaning}: a whole number from 0, not {brief(value, 20)!r}")
    return int(value)
