"""The audit entry of a merge that finds its influencers already one (a second client's merge of the same pair,
the other way round, or a cycle of merges racing), called for real: identity on a free loopback port, its store
seeded with one face per influencer. The entry names who joined whom as it is, never the reverse."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common.settings import Settings
from tests.support.service_stubs import seeded_identity

VIDEOS = [f"{k:016x}" for k in range(1, 6)]
INFLUENCERS = [f"inf_{k:010x}" for k in range(0xA1, 0xA6)]


@pytest.fixture
def identity(tmp_path) -> Iterator[identity_pb2_grpc.IdentityServiceStub]:
    with seeded_identity(Settings(data_dir=tmp_path, identity_port=0, workers=1), VIDEOS, INFLUENCERS) as stub:
        yield stub


def merge(identity, *ids: str) -> identity_pb2.AuditEntry:  # type: ignore[no-untyped-def]
    reply = identity.MergeInfluencers(identity_pb2.MergeInfluencersRequest(influencer_ids=ids), timeout=60)
    return reply.changes.audit


def survivors(identity) -> set[str]:  # type: ignore[no-untyped-def]
    listed = identity.ListInfluencers(identity_pb2.ListInfluencersRequest(), timeout=30).influencers
    return {i.influencer_id for i in listed}


def test_a_merge_the_other_way_round_after_the_first_changes_nothing_and_is_not_audited(identity) -> None:
    a, b = INFLUENCERS[:2]
    first = merge(identity, a, b)
    assert (list(first.before_ids), list(first.after_ids), first.videos) == ([b], [a], 1)
    # Was audited "a merged into b" (the ids as asked), where a holds both videos and b is no more. A correction
    # that changes nothing is not audited (as a rename to the same name is not).
    again = merge(identity, b, a)
    assert (list(again.before_ids), list(again.after_ids), again.videos) == ([], [], 0)
    assert a in survivors(identity) and b not in survivors(identity)


def test_every_merge_of_a_racing_cycle_names_a_survivor_that_exists(identity) -> None:
    c, d, e = INFLUENCERS[2:5]
    entries: list[identity_pb2.AuditEntry] = []
    errors: list[grpc.RpcError] = []

    def run(*ids: str) -> None:
        try:
            entries.append(merge(identity, *ids))
        except grpc.RpcError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in ((c, d), (d, e), (e, c))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, [x.details() for x in errors]
    (survivor,) = survivors(identity) & {c, d, e}
    held = identity.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=survivor), timeout=30).influencer
    assert sorted(held.video_ids) == VIDEOS[2:5]
    # In the order they ran (stamped under identity's lock): the first joined two, the others all into the one
    # that stands. Was: the last, finding all three one already, named one merged away as the survivor.
    ran = sorted((x for x in entries if x.after_ids), key=lambda x: (x.time.seconds, x.time.nanos))  # no-ops: none
    assert all(list(x.after_ids) == [survivor] for x in ran[1:]), [(x.before_ids, x.after_ids) for x in ran]


def test_a_same_answer_for_a_pair_merged_before_names_the_one_merged_away_as_the_one_that_joined(identity) -> None:
    a, b = INFLUENCERS[:2]
    merge(identity, a, b)  # b joined a (a second analyst, or the CLI)
    # The answer itself is new (kept, for the pair model), so it is audited; it was audited "a joined b",
    # naming as the survivor the influencer merged away.
    reply = identity.AnswerReviewItem(identity_pb2.AnswerReviewItemRequest(
        influencer_a=b, influencer_b=a, answer=identity_pb2.REVIEW_ANSWER_SAME), timeout=60).changes
    assert (list(reply.audit.before_ids), list(reply.audit.after_ids)) == ([b], [a])
    assert (reply.audit.videos, reply.changed_videos) == (0, 0)
    assert a in survivors(identity) and b not in survivors(identity)


def test_a_correction_of_an_influencer_merged_away_says_into_whom(identity) -> None:
    # A second analyst's page still shows b after the first merged it: hide, split, "different", an erasure, a
    # rename and a read answered "no influencer 'b'" alone, as for an id that never was (an erasure as if the
    # person were gone).
    a, b = INFLUENCERS[:2]
    merge(identity, a, b)
    calls = [(identity.HideInfluencer, identity_pb2.HideInfluencerRequest(influencer_id=b, hidden=True)),
             (identity.SplitInfluencer, identity_pb2.SplitInfluencerRequest(influencer_id=b, video_ids=[VIDEOS[1]])),
             (identity.AnswerReviewItem, identity_pb2.AnswerReviewItemRequest(
                 influencer_a=b, influencer_b=a, answer=identity_pb2.REVIEW_ANSWER_DIFFERENT)),
             (identity.DeleteInfluencer, identity_pb2.DeleteInfluencerRequest(influencer_id=b)),
             (identity.RenameInfluencer, identity_pb2.RenameInfluencerRequest(influencer_id=b, name="Bo")),
             (identity.GetInfluencer, identity_pb2.GetInfluencerRequest(influencer_id=b))]
    for call, request in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=60)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert caught.value.details() == f"no influencer '{b}': it was merged into {a}", caught.value.details()
    assert survivors(identity) == set(INFLUENCERS) - {b}, "nothing erased, hidden or split"
