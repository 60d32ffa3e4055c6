"""Sign-outs kept in the analytics database (table `revoked_sessions`), so that a session ended on one page
replica is refused by every replica and after a restart, until its cookie expires anyway."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from services.analytics.store_schema import revoked_sessions


class SqlRevocations:
    """The revocation list of services.analytics.web.auth.Keys on `engine` (migrated with the store)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def revoke(self, nonce: str, until: float) -> None:
        insert = (postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert)(
            revoked_sessions)
        with self._engine.begin() as c:
            c.execute(revoked_sessions.delete().where(revoked_sessions.c.until < time.time()))
            c.execute(insert.values(nonce=nonce, until=until).on_conflict_do_nothing(index_elements=["nonce"]))

    def is_revoked(self, nonce: str) -> bool:
        with self._engine.connect() as c:
            return c.execute(sa.select(revoked_sessions.c.nonce).where(revoked_sessions.c.nonce == nonce)
                             ).first() is not None
