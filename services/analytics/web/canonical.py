"""Ids in a page's path, checked before any lookup: an id out of pattern is a 404, and one typed or pasted in
capitals (`/influencer/INF_…`, as a spreadsheet or the CLI's output may show it) is sent on to the same page at
its canonical, lower-case URL (308, the query kept), the way the CLI accepts ids in any case
(influencers/names.py). A query's ids (Predict's `?ids=`) are read the same way (influencer_id_as_typed)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from flask import abort, redirect, request, url_for

from services.common.boundary import brief, is_influencer_id

_PRINTABLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))  # left as sent: `%`-escapes, `&`, `=`, `+`


def no_such(name: str, value: str) -> str:
    """The 404's sentence for a view argument `name` ("video_id") whose `value` names nothing: which one (the page
    said "There is no such page, influencer or video", naming neither), and where the real ones are listed."""
    return f"There is no {name.removesuffix('_id')} {brief(value, 80)!r}: the report lists every influencer, " \
           "and Videos every video."


def canonical_ids(**checks: Callable[[str], bool]) -> None:
    """Each named view argument passes its check (services.common.boundary) as it is; one that passes only
    once stripped and lower-cased is a 308 to the canonical URL; any other is a 404."""
    given = request.view_args or {}
    canonical = {name: given[name].strip().lower() for name in checks}
    for name, check in checks.items():
        if not check(canonical[name]):
            abort(404, description=no_such(name, given[name]))
    if all(canonical[name] == given[name] for name in checks):
        return
    target = url_for(request.endpoint or "", **{**given, **canonical})
    # As the client sent it (a browser's is URL-encoded already); raw bytes a client sent unencoded (curl's
    # `?q=é`) are percent-encoded as they are, not turned into U+FFFD.
    query = quote(request.query_string, safe=_PRINTABLE_ASCII)
    abort(redirect(f"{target}?{query}" if query else target, code=308))


def influencer_id_as_typed(value: str) -> str:
    """`value` as an influencer id when it is one in any case (`INF_…` → `inf_…`), else `value` stripped."""
    lowered = value.strip().lower()
    return lowered if is_influencer_id(lowered) else value.strip()
