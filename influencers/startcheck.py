"""At the start of the whole stack in one process, identity's and analytics' views of who appears are
compared. Identity holds the truth of appearances (its faces): analytics missing people identity has is
repaired by a resync (analytics replays identity's feed from the start, or takes a snapshot when the feed
is trimmed); analytics listing people of whom identity holds no face means identity's store lost faces (a
store replaced, emptied or restored from an older copy), which nothing can repair from analytics (it holds no
face vectors): refused in one line. Compared only when analytics has applied identity's whole feed (a
follower behind would show a difference that is not damage)."""

from __future__ import annotations

import logging
from collections import Counter

import sqlalchemy as sa

from services.analytics.store import AnalyticsStore
from services.analytics.store_schema import appearances, state
from services.common.damage import StoreDamaged
from services.identity.appearances import UNCONFIRMED
from services.identity.facestore import FaceStore

log = logging.getLogger(__name__)
SHOWN = 3  # ids named in a message


def identity_people(store: FaceStore) -> set[str]:
    """Influencers with at least one face that is an appearance (not only reference photos). The faces of
    lone doubtful people (UNCONFIRMED, "") are nobody's yet: analytics never lists them."""
    counts = store.influencer_counts()
    references = Counter(f.record.influencer_id for f in store.faces_where("reference", [1]))
    return {i for i, n in counts.items() if n > references.get(i, 0) and i != UNCONFIRMED}


def analytics_people(store: AnalyticsStore) -> set[str]:
    with store._reading() as c:  # noqa: SLF001 - one read of the table, beside the store's own reads
        return set(c.execute(sa.select(appearances.c.influencer_id).distinct()).scalars())


def compare_views(faces: FaceStore, feed_head: int, store: AnalyticsStore) -> str:
    """Compares the views (see the module's doc); returns what was done ("" when nothing), raises
    StoreDamaged when identity lost faces."""
    if store.feed_position() < feed_head:
        return ""
    have, shown = identity_people(faces), analytics_people(store)
    lost = sorted(shown - have)
    if lost:
        raise StoreDamaged(
            f"identity's face store holds no face of {len(lost)} of the {len(shown)} influencers analytics lists "
            f"(e.g. {', '.join(lost[:SHOWN])}): the face store was replaced, emptied or restored from an older "
            "copy; restore DATA/qdrant/edge from its backup, or remove DATA/analytics.sqlite3 to rebuild "
            "analytics from identity")
    missing = sorted(have - shown)
    if not missing:
        return ""
    with store._writing() as w:  # noqa: SLF001 - the follower replays identity's feed from the start
        w.c.execute(state.update().values(feed_position=0))
    message = (f"analytics lacks {len(missing)} influencer{'' if len(missing) == 1 else 's'} identity holds "
               f"(e.g. {', '.join(missing[:SHOWN])}): "
               "rebuilding its appearances from identity's feed")
    log.warning(message)
    return message
