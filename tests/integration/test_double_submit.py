"""A form submitted twice (a double click, a reload, a retry after a timeout): the second merge or "same
person" answer is answered with what happened, never a bare NOT_FOUND, over gRPC; an erased person's merge
records go with them."""

from __future__ import annotations

import grpc
import pytest
from test_corrections import BAND
from test_registry import CENTRES, person, video
from test_review_queue import caught_up, clients, first, record, someone, stack  # noqa: F401 - fixtures

from influencers.v1 import identity_pb2


def test_a_second_merge_of_the_same_influencers_changes_nothing_and_succeeds(stack, clients):  # noqa: F811
    ident, analytics = clients
    registry = stack.identity.registry
    a = record(stack, "00000000000000d1", registry.assign("00000000000000d1", video(someone(CENTRES["a"], 1))))
    b = record(stack, "00000000000000d2", registry.assign("00000000000000d2", video(someone(CENTRES["b"], 2))))
    first = ident.merge([a, b])
    caught_up(analytics, first)
    assert first.changed_videos == 1 and registry.influencer(b) is None
    for again in ([a, b], [b, a], [a, b, b]):
        second = ident.merge(again)
        assert second.changed_videos == 0, again
    caught_up(analytics, second)
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000d2")} == {a}
    with pytest.raises(grpc.RpcError) as err:
        ident.merge([a, "inf_0000000000"])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, "an id that never was is still unknown"


def test_a_second_same_person_answer_succeeds_with_no_change(stack, clients):  # noqa: F811
    ident, analytics = clients
    registry = stack.identity.registry
    a = record(stack, "00000000000000d3", registry.assign("00000000000000d3", video(someone(CENTRES["a"], 3))))
    b = record(stack, "00000000000000d4", registry.assign("00000000000000d4", video(someone(BAND, 4))))
    first = ident.answer(a, b, identity_pb2.REVIEW_ANSWER_SAME)
    caught_up(analytics, first)
    assert first.changed_videos == 1
    second = ident.answer(a, b, identity_pb2.REVIEW_ANSWER_SAME)
    assert second.changed_videos == 0


def test_erasing_a_person_drops_the_merge_records_that_name_them(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    registry.merge([a, b])
    assert registry.merge([a, b]) == []
    registry.delete(a)
    assert list(registry.store.side_records("merged")) == []
    with pytest.raises(KeyError):
        registry.merge([a, b])


def test_hiding_someone_hidden_after_they_appeared_in_more_videos_changes_nothing_and_is_not_audited(
        stack, clients):  # noqa: F811
    ident, analytics = clients
    registry = stack.identity.registry
    a = record(stack, "00000000000000d5", registry.assign("00000000000000d5", video(someone(CENTRES["a"], 5))))
    hidden = ident.hide(a, True)
    assert hidden.audit.audit_id
    # A later video of the same person joins them, its faces not pinned yet (a batch pins nothing).
    assert first(registry.assign("00000000000000d6", video(someone(CENTRES["a"], 6)))) == a
    for again in (ident.hide(a, True), ident.hide(a, True)):
        assert not again.audit.audit_id, "a hide of someone hidden changes nothing: it is not audited"
    unhidden = ident.hide(a, False)
    assert unhidden.audit.audit_id and not ident.hide(a, False).audit.audit_id
    caught_up(analytics, unhidden)
    assert [r.action for r in stack.store.audit_rows()] == ["unhide", "hide"]
