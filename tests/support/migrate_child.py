"""A child process for the migrations' kill tests: opens the store argv[1] (analytics, ingest or identity) at the
SQLite URL argv[2], which migrates it to this release's schema, with INFLUENCERS_CRASH_AT (if set) killing it part
way."""

import sys

from services.analytics.store_schema import migrate as migrate_analytics
from services.common.database import open_engine
from services.identity.feed import migrate as migrate_identity
from services.ingest.job_store import migrate as migrate_ingest

MIGRATE = {"analytics": migrate_analytics, "ingest": migrate_ingest, "identity": migrate_identity}


def main() -> None:
    engine = open_engine(sys.argv[2])
    MIGRATE[sys.argv[1]](engine)
    engine.dispose()


if __name__ == "__main__":
    main()
