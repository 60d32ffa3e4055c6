"""What stands for an erased person once they are gone, and the scrubbing of SQL files after an erasure.

An erased influencer id is never written again in clear: identity's feed carries, and analytics' tombstones
keep, its keyed hash (HMAC-SHA256 under settings.erasure_secret, which every service of a deployment shares).
With a secret, the hash cannot be reversed by hashing every id (ids derive from listed video ids); without
one (the default), it still keeps the id's bytes out of every file, but a list of candidate ids could be
checked against it: a deployment that must resist that sets INFLUENCERS_ERASURE_SECRET.

A deleted SQL row is not gone from the files by itself: SQLite keeps its page images in the write-ahead
log until a checkpoint (pages freed in the database itself are zeroed: `secure_delete`, see database.py);
PostgreSQL keeps dead tuples in the table's pages until VACUUM, and plain VACUUM leaves their bytes in the
page's free space. `scrub_sql` checkpoints and truncates SQLite's log (sqlite_log.py), or rewrites PostgreSQL tables
(VACUUM FULL writes new files and unlinks the old ones).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.common.sqlite_log import truncate_log

log = logging.getLogger(__name__)

_PEPPER = b"influencers-erasure-v1"  # the key when no secret is configured (keeps ids out of the files)


def erasure_key(influencer_id: str, secret: str = "") -> str:
    """The keyed hash standing for an erased id: 32 hex digits of HMAC-SHA256(secret, id)."""
    key = secret.encode("utf-8") if secret else _PEPPER
    return hmac.new(key, influencer_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def scrub_sql(engine: Engine, tables: Sequence[str]) -> None:
    """Removes the bytes of deleted rows of `tables` from the database's files (see the module's doc).
    Failures are logged, not raised: the rows are already deleted; the next erasure scrubs again."""
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in tables:
                    conn.exec_driver_sql(f'VACUUM FULL "{table}"')
        elif not truncate_log(engine):
            log.warning("could not truncate the log of %s after an erasure: a reader holds it; the next "
                        "erasure does it", ", ".join(tables))
    except sa.exc.SQLAlchemyError as exc:  # a busy reader may hold the log: the next scrub does it
        log.warning("could not scrub %s after an erasure: %s", ", ".join(tables), str(exc).splitlines()[0])
