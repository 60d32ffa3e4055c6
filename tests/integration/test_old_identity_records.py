"""Identity's store as an older release left it, cleaned at the next start (services/identity/old_records.py):
a merge record that outlived the undo of its merge, and a name of the form of an influencer id. The old store is
made by today's corrections, then given the records the older release wrote and today's code no longer does."""

import grpc
import pytest
from test_audit import clients
from test_registry import person, video
from test_review_queue import caught_up, found

from services.common.look_alikes import looks_like_an_id
from services.identity import journal, undo
from services.identity.corrections import MAX_NAME, MERGED, merged_into
from services.identity.old_records import ID_MARK, drop_undone_merges, mark_id_like_names, marked
from services.identity.process import IdentityProcess
from tests.support.following import identity_and_analytics

OLD_NAME = "іnf_0123456789"  # a Cyrillic і: refused when typed today, kept by an older release


@pytest.fixture
def stack(settings):
    with identity_and_analytics(settings) as running:
        yield running


def restarted(stack):
    """Identity stopped and started again on its data dir and port (analytics follows it again)."""
    stack.identity.stop(1.0)
    stack.identity = IdentityProcess(stack.settings)
    return stack.identity


def as_an_older_release_left_it(store, merged_away, joined, named):
    """The merge record an undone merge left (an older release's undo kept it) and a name typed as an id."""
    store.set_side(MERGED, merged_away, {"id": merged_away, "into": joined, "time_utc": "2026-12-01T10:00:00+00:00"})
    store.set_name(named, OLD_NAME)


def test_a_start_drops_the_merge_record_of_an_undone_merge_so_a_stale_page_merges_nobody_else(stack):
    # Before: x still stood for y after the restart; x's last appearance moved away, a merge of [z, x] sent from a
    # page still showing x merged y, another person, into z.
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    x = found(stack, "0000000000000b71", "a")
    y = found(stack, "0000000000000b72", "b")
    z = found(stack, "0000000000000b73", "c")
    caught_up(analytics, ident.undo(ident.merge([y, x]).audit.audit_id))
    as_an_older_release_left_it(registry.store, x, y, z)
    registry = restarted(stack).registry
    assert merged_into(registry.store, x) == "", "the undone merge's record is gone"
    ident, analytics = clients(stack)
    caught_up(analytics, ident.move("0000000000000b71", x))
    with pytest.raises(grpc.RpcError) as err:
        ident.merge([z, x])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and err.value.details() == f"no influencer '{x}'"
    assert len(registry.store.faces_of(y)) == 3 and len(registry.store.faces_of(z)) == 3, "nobody merged"


def test_a_merge_record_of_an_id_merged_again_after_an_undo_is_kept(registry):
    (x,) = [a.influencer_id for a in registry.assign("v1", video(person(0, "a")))]
    (y,) = [a.influencer_id for a in registry.assign("v2", video(person(0, "b")))]
    (z,) = [a.influencer_id for a in registry.assign("v3", video(person(0, "c")))]
    for audit_id, ids, undone in (("a1", [y, x], True), ("a2", [z, x], False)):  # merged, undone, merged again
        before = undo.capture(registry.store, ids)
        registry.merge(ids)
        kept = undo.difference(before, undo.again(registry.store, before))
        undo.keep(registry.store, audit_id, {**kept, "entry": {"action": 2, "before": ids[1:], "after": ids[:1]}},
                  "2026-12-01T10:00:00+00:00")
        if undone:
            undo.revert(registry.store, audit_id)
            registry.store.set_side(MERGED, x, {"id": x, "into": y})  # as the older release left it
    assert drop_undone_merges(registry.store) == [] and merged_into(registry.store, x) == z
    assert drop_undone_merges(registry.store) == []


def test_a_start_marks_an_old_name_of_the_form_of_an_id_once_audited_and_analytics_shows_it(stack):
    # Before: the page, the exports and the CLI showed 'іnf_0123456789' as the name of z, where ids are read.
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    z = found(stack, "0000000000000b74", "c")
    registry.store.set_name(z, OLD_NAME)
    restarted(stack)
    ident, analytics = clients(stack)
    assert stack.identity.registry.names() == {z: OLD_NAME + ID_MARK}
    assert analytics.wait_for_position(stack.identity.feed.head(), 10), "analytics follows the restarted identity"
    assert stack.store.names()[z] == OLD_NAME + ID_MARK
    (row,) = [r for r in stack.store.audit_rows() if r.action == "rename"]
    assert (row.actor, row.before_name, row.after_name) == ("identity:start", OLD_NAME, OLD_NAME + ID_MARK)
    assert mark_id_like_names(stack.identity.store) == {}, "idempotent: a marked name is no id"
    restarted(stack)
    assert len([r for r in stack.store.audit_rows() if r.action == "rename"]) == 1


def test_a_kill_after_the_renames_were_journalled_is_finished_by_the_next_start(registry):
    (z,) = [a.influencer_id for a in registry.assign("v1", video(person(0, "c")))]
    registry.store.set_name(z, OLD_NAME)
    assert mark_id_like_names(registry.store) == {z: OLD_NAME + ID_MARK}
    assert mark_id_like_names(registry.store) == {}, "a rename journalled already is not journalled twice"
    journal.replay_pending(registry.store, registry)  # the next start's replay
    assert registry.names() == {z: OLD_NAME + ID_MARK}


def test_a_name_cut_to_fit_with_its_mark_is_no_id_and_no_longer_than_a_name():
    long = "inf_0123456789" + "\u0301" * 190
    assert looks_like_an_id(long) and not looks_like_an_id(marked(long)) and len(marked(long)) <= MAX_NAME
