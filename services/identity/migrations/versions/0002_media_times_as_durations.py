"""Media times as Durations: every retained entry written before them (double seconds under numbers now
reserved, kept by the parser as unknown fields) is rewritten with its times in the Duration fields
(services/common/legacy_times.py), in place, under its position. Nothing is trimmed: a follower behind the
head reads the same changes as before, with the same times.

Revision ID: 0002_media_times_as_durations
"""

import sqlalchemy as sa
from alembic import op

from influencers.v1 import identity_pb2
from services.common.legacy_times import upgrade_media_times

revision = "0002_media_times_as_durations"
down_revision = "0001_change_feed"
branch_labels = None
depends_on = None

BATCH = 500  # entries read at a time (one entry is at most 200 videos' appearances)

changes = sa.table("identity_changes", sa.column("position", sa.BigInteger), sa.column("change", sa.LargeBinary))


def upgrade() -> None:
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(sa.select(changes.c.position, changes.c.change)
                                  .where(changes.c.position > after).order_by(changes.c.position).limit(BATCH)).all()
        for position, blob in rows:
            change = identity_pb2.Change.FromString(bytes(blob))
            if upgrade_media_times(change):
                connection.execute(changes.update().where(changes.c.position == position)
                                   .values(change=change.SerializeToString()))
        if len(rows) < BATCH:
            return
        after = int(rows[-1][0])


def downgrade() -> None:
    raise NotImplementedError("entries with Durations cannot go back to double seconds: restore a backup")
