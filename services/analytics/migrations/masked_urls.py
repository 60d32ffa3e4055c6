"""The write rules of migration 0007 (rows recorded before signed links were masked), as pure functions.

Before url_secrets, an http(s) row was recorded with its link as given, as `url` and as `location` (its key):
a signature, token or key in both. A row recorded since keeps `url` with the secrets hidden and `location` with
each secret query value digested (url_secrets.secrets_digested of the link as given). So an old row moves to
the key the same link gets today, and a row of that link recorded since (the link run again: a new row, most
often a duplicate of the old row's video) is the same manifest row: the two become one.
"""

from __future__ import annotations

from services.analytics.records import DONE, DUPLICATE
from services.common.url_scheme import has_scheme
from services.common.url_secrets import secrets_digested, secrets_hidden

RESULTS = (DONE, DUPLICATE)  # statuses of a row that has a result


def shown_url(url: str) -> str:
    """A row's `url` as a row recorded today keeps it (any scheme: a user name and password are hidden too)."""
    return secrets_hidden(url)


def masked_location(location: str, url: str) -> str:
    """The key a row at `location` gets today: an http(s) row recorded before masking (its location the link
    as given, the same as its url) with its secrets digested; any other row as it is (a row recorded since
    keeps digests, which must not be digested again; a path is no link)."""
    if location != url or has_scheme(location) not in ("http", "https"):
        return location
    return secrets_digested(location)


def merged(old: dict, new: dict, old_made_video: bool) -> dict:
    """One manifest row of two rows of the same link: `old` (recorded before masking) and `new` (recorded
    since under today's key, so later). Columns as the urls table's, `location` excluded. `old_made_video`:
    the old row's video stands under the old row (it produced it).

    As the store's write rules would have had it had the link kept its key: a later run of the same bytes
    keeps the row's result and takes the later score, id and repeats (a duplicate of the video its own row
    produced is that row, done); a later failure never undoes a result (a done row notes its error); else the
    later row as recorded. The row keeps the first place (`seq`) and the most repeats."""
    if new["status"] in RESULTS and new["video_id"] == old["video_id"]:
        status = DONE if old["status"] == DONE and old_made_video else new["status"]
        row = {**new, "status": status, "error": "" if status == DONE else new["error"]}
    elif new["status"] not in RESULTS and old["status"] in RESULTS:
        row = {**old, "url": new["url"], "updated_at": max(old["updated_at"], new["updated_at"])}
        if old["status"] == DONE:
            row["error"] = new["error"]
    else:
        row = dict(new)
    row["seq"] = min(old["seq"], new["seq"])
    row["repeats"] = max(old["repeats"], new["repeats"])
    return row
