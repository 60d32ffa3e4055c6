"""Alembic environment of the ingest job queue: run only through `services.ingest.job_store.migrate`, which
hands over an open connection; its history is kept in `alembic_version_jobs`, apart from analytics'."""

from alembic import context

from services.ingest.job_store import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
