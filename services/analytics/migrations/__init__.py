"""Alembic migrations of the analytics store (run by services/analytics/store_schema.py `migrate` at open).

`versions/` holds the revisions; `first_schema.py` the tables of the first one, frozen (the release before
Alembic wrote them, so `legacy.py` adopts its data dirs with the same definitions).
"""
