"""Alembic's entry: runs the revisions on the connection `store_schema.migrate` passes (inside its
transaction, under its lock), recording them in the analytics store's own version table."""

from alembic import context

from services.analytics.store_schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("analytics migrations run through services.analytics.store_schema.migrate(engine)")
context.configure(connection=connection, version_table=VERSION_TABLE, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
