"""The CLI's influencer arguments: a name or an id, resolved through identity's ListInfluencers
(services/common/names.py says how; this module only fetches the list, once per command)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from influencers.v1 import identity_pb2
from services.common.boundary import is_influencer_id
from services.common.names import Known, merge_order, resolve


class Lists(Protocol):
    """The one identity call the resolver needs (services/common/clients.GrpcIdentity has it)."""

    def influencers(self) -> list[identity_pb2.Influencer]: ...


class Resolver:
    """Turns the words of a command line into influencer ids; asks identity for its list at most once, and
    not at all when every word is already an id and no merge is asked for."""

    def __init__(self, identity: Lists) -> None:
        self._identity = identity
        self._known: list[Known] | None = None

    def known(self) -> list[Known]:
        if self._known is None:
            self._known = [Known(i.influencer_id, i.name, i.videos)
                           for i in self._identity.influencers()]
        return self._known

    def one(self, word: str) -> str:
        """The id `word` stands for (services.common.names.resolve); NameLookupError when none or several."""
        as_id = word.strip().lower()  # ids are lower case; one typed in capitals is still that id (no name
        return as_id if is_influencer_id(as_id) else resolve(word, self.known())  # has an id's form)

    def merge(self, words: Sequence[str], into: str = "") -> list[str]:
        """The ids of `words`, the survivor first: `into` when given, else services.common.names.survivor's
        choice (the rule the page's merge follows too)."""
        ids = [self.one(w) for w in words]
        if into:
            keep = self.one(into)
            return [keep, *[i for i in dict.fromkeys(ids) if i != keep]]
        return merge_order(ids, self.known())
