"""The key today's release gives the link of a row keyed, past 1 KiB, by a release before migration 0009.

That release shortened a long link's key to its head and the SHA-256 of the link with its query's secrets
digested alone: a user name and password, and a token in its path, as given. Today's key digests those too
before it is shortened (services/common/location_key.py), so its head and its digest differ, and only the
link itself gives them: the key alone, digested again (as 0009 first did), is no key the link gets today, and
the link run again was a second row. The row's url (the link with its secrets `***`) gives the rest of the link
(all but its secrets), and the head gives each secret it holds, digested as today: when the head holds every
secret, the link keyed as today is known, and its key with it. A link whose secrets are its query's alone was
digested then as now: the same digest of the whole, the head cut back as today's is. Anything else is keyed as
0009 first did (location_key of the key): its secrets out, but not found again by the same link.
"""

from __future__ import annotations

from services.common.location_key import cut_back, key_parts, last_piece_dropped, location_key, shortened_key
from services.common.url_scheme import has_scheme
from services.common.url_secrets import HIDDEN, secrets_before_query, secrets_hidden, secrets_keyed


def key_today(key: str, url: str) -> str:
    """The key of the link of a row keyed `key` (by the release before 0009, or as 0009 left it), `url` its url
    as stored (the link with its secrets hidden); a key of today comes back as it is."""
    head, digest = key_parts(key)
    if not head or has_scheme(head) not in ("http", "https"):
        return location_key(key)
    keyed_head = secrets_keyed(head)
    # The head's last piece may be cut: the rest of it, and the url's from the same place, make the link keyed.
    whole, shown = last_piece_dropped(keyed_head), last_piece_dropped(secrets_hidden(keyed_head))
    rest = url[len(shown):]
    if url.startswith(shown) and HIDDEN not in rest and secrets_hidden(whole + rest) == url:
        return location_key(whole + rest)
    if not secrets_before_query(head) and not secrets_before_query(url) and url.startswith(
            last_piece_dropped(secrets_hidden(cut_back(head)))):
        return shortened_key(cut_back(head), digest)
    return location_key(key)
