"""Every row's key, url and error without the secrets today's rules find (services/common/url_secrets.py), inside a
migration: 0009 (no secret in a key), 0014 (the secret parameters' names added since, and a JSON Web Token under any
name), and 0015 (more names, and the user name and password of a link given without its scheme, `//ann:pw@cdn/v.mp4`,
read as a local path). A row whose key changes moves to the key its link gets today (migrations/long_keys.py), merged
with a row already there by the store's write rules (migrations/row_moves.py)."""

from __future__ import annotations

import sqlalchemy as sa

from services.analytics.migrations.long_keys import key_today
from services.analytics.migrations.row_moves import URL_COLUMNS, move_row, urls, videos
from services.common.location_key import location_key
from services.common.url_secrets import links_hidden, path_link_keyed, path_userinfo_hidden, secrets_hidden


def keep_no_secret(c: sa.Connection) -> None:
    """Re-keys every row and video of the store on connection `c` as today, and hides the secrets of its url and
    error as the store keeps them now (records.secrets_kept_out)."""
    found = c.execute(sa.select(urls.c.location, *(urls.c[k] for k in URL_COLUMNS))).all()
    for location, *columns in found:
        row = dict(zip(URL_COLUMNS, columns, strict=True))
        # A key past 1 KiB: the one the same link gets today, found from the url when it can be (long_keys.py).
        key = key_today(location, secrets_hidden(row["url"]))
        # `/ann:pw@cdn/v.mp4?token=abc`: a link given without its scheme, read as a path (0015: its password; 0017:
        # its tokens, digested as a link's).
        if (in_path := path_link_keyed(path_userinfo_hidden(key, row["url"]), row["url"])) != key:
            key = location_key(in_path)
        if key != location:
            move_row(c, location, key, row)
    # A video standing under no row's key (none is expected) loses its secrets all the same.
    for video_id, location in c.execute(sa.select(videos.c.video_id, videos.c.location)).all():
        if (key := location_key(location)) != location:
            c.execute(videos.update().where(videos.c.video_id == video_id).values(location=key))
    for t, key_column in ((urls, urls.c.location), (videos, videos.c.video_id)):
        for key, url, error in c.execute(sa.select(key_column, t.c.url, t.c.error)).all():
            kept = {"url": secrets_hidden(url), "error": links_hidden(path_userinfo_hidden(error, url))}
            if kept != {"url": url, "error": error}:
                c.execute(t.update().where(key_column == key).values(**kept))

