"""Alembic environment of identity's change feed: run only through `services.identity.feed.migrate`, which
hands over an open connection; its history is kept in `alembic_version_identity`, apart from analytics' and
ingest's in a shared database."""

from alembic import context

from services.identity.feed import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("identity migrations run through services.identity.feed.migrate(engine)")
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE,
                  transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
