"""Identity's gauges for Prometheus (services/common/metrics.py), read at scrape time from the store and the
feed: each at most as often as its cost allows (a count of a million faces is not taken at every scrape)."""

from __future__ import annotations

from collections.abc import Callable

from services.common.metrics import GAUGES
from services.identity.appearances import UNCONFIRMED
from services.identity.facestore import FaceStore
from services.identity.feed import ChangeFeed
from services.identity.registry import IdentityRegistry

COUNT_AGE_S = 30.0  # faces and influencers: counted from the store's indexes at most this often (seconds)
# The review queue reads every face's vector under the registry's lock (services/identity/review_store.py):
# recomputed at most this often, in the background, and counted up to REVIEW_CAP items.
REVIEW_AGE_S = 600.0
REVIEW_CAP = 1000


def attach_gauges(registry: IdentityRegistry, store: FaceStore, feed: ChangeFeed, review_band: float
                  ) -> Callable[[], None]:
    """Attaches influencers_faces_stored, influencers_influencers, influencers_review_items and
    influencers_feed_head; returns the function that detaches them (call it on stop)."""
    detach = [
        GAUGES.attach("influencers_faces_stored", store.count, COUNT_AGE_S),
        GAUGES.attach("influencers_influencers",
                      lambda: sum(1 for i in store.influencer_counts() if i != UNCONFIRMED), COUNT_AGE_S),
        GAUGES.attach("influencers_review_items", lambda: len(registry.review(review_band, REVIEW_CAP)),
                      REVIEW_AGE_S),
        GAUGES.attach("influencers_feed_head", feed.head),
    ]

    def detach_all() -> None:
        for d in detach:
            d()

    return detach_all
