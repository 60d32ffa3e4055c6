"""A child process for the feed's kill tests: follows identity's feed at argv[2] into the analytics store of DATA
(argv[1]) as a replica that starts applying it does (the crops a kill left missing first, then the feed to its head),
with INFLUENCERS_CRASH_AT (if set) killing it part way. Prints the position reached."""

import sys
from pathlib import Path

from influencers.v1 import identity_pb2_grpc
from services.analytics.feed import Follower
from services.analytics.feed_grpc import GrpcFeedSource
from services.analytics.store import AnalyticsStore
from services.common.rpc import open_channel
from services.common.settings import Settings


def main() -> None:
    store = AnalyticsStore.open(Settings(data_dir=Path(sys.argv[1])))
    follower = Follower(GrpcFeedSource(identity_pb2_grpc.IdentityServiceStub(open_channel(sys.argv[2])), 30.0),
                        store, page_size=2)
    follower.fill_missing_crops()
    follower.catch_up()
    print(store.feed_position(), flush=True)
    store.close()


if __name__ == "__main__":
    main()
