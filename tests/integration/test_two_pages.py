"""Corrections of one influencer from two pages at once (two signed-out loopback sessions in headless Chromium,
or two gRPC callers), over the real stack: a rename in the first, a merge in the second from a page that was
open before the rename, then the first page's Undo of its rename."""

from __future__ import annotations

import pytest
from test_audit import clients
from test_audit_page import page  # noqa: F401 (the fixture)
from test_review_queue import caught_up, found

from tests.support.browser import chromium
from tests.support.following import identity_and_analytics


def pins(registry, influencer_id: str) -> set[str]:
    """Whom the influencer's faces are pinned to ("" for none), each once."""
    return {f.record.pinned for f in registry.store.faces_of(influencer_id)}


@pytest.fixture
def stack(settings):
    with identity_and_analytics(settings) as running:
        yield running


def test_an_undone_rename_never_drops_the_name_a_merge_from_another_page_gave_up_for_it(page) -> None:  # noqa: F811
    # Before: page two merged Bo into Ana (the one kept keeps its name: Bo's went), then page one's Undo of the
    # rename to Ana left the person unnamed: neither name, Bo's gone without a word. Now the Undo is refused,
    # naming the merge to undo first, and the person stays Ana.
    stack, base, ids = page
    a, b = ids["a"], ids["b"]
    stack.identity.registry.rename(b, "Bo")
    with chromium() as browser:
        one, two = browser.new_context().new_page(), browser.new_context().new_page()
        one.goto(f"{base}/influencer/{a}")
        two.goto(f"{base}/influencer/{a}")
        one.fill("#rename input[name=name]", "Ana")
        one.click("#rename button")
        one.wait_for_selector("#feedback:has-text('Ana')")
        two.check(f"#merge input[name=ids][value={b}]")
        two.click("#merge button")
        two.wait_for_selector("#feedback:has-text('Merged Bo into Ana')")
        one.click("#feedback button:has-text('Undo')")
        one.wait_for_load_state("load")
        said = one.locator("main").inner_text()
        assert "Conflict" in said and "undo the later correction" in said, said
        assert stack.identity.registry.names() == {a: "Ana"}
        two.click("#feedback button:has-text('Undo')")  # the merge undone first, the rename can be
        two.wait_for_selector("#feedback:has-text('Undid')")
        assert stack.identity.registry.names() == {a: "Ana", b: "Bo"}


def test_an_undone_rename_leaves_the_pins_of_a_later_merge_into_the_same_influencer(stack) -> None:
    # Before: the rename had pinned a's faces, the merge found them pinned already (no change kept), and the
    # rename's undo unpinned them: the merge's must-link on a's own faces was gone, for a re-derivation to undo.
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000d71", "a")
    b = found(stack, "0000000000000d72", "b")
    renamed = ident.rename(a, "Ana")
    caught_up(analytics, ident.merge([a, b]))
    caught_up(analytics, ident.undo(renamed.audit.audit_id))
    assert registry.names() == {}
    assert {(f.record.influencer_id, f.record.pinned) for f in registry.store.faces_of(a)} == {(a, a)}
    assert len(registry.store.faces_of(a)) == 6


def test_a_rename_undone_before_anything_else_touched_the_person_lifts_its_pins(stack) -> None:
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000d73", "a")
    caught_up(analytics, ident.undo(ident.rename(a, "Ana").audit.audit_id))
    assert pins(registry, a) == {""}, "nothing else pins them"


def test_a_pin_a_later_merge_kept_through_an_undone_rename_goes_when_that_merge_is_undone_too(stack) -> None:
    # Before: the rename's undo left a's faces pinned for the merge still standing (above), and the merge's undo
    # (which had found them pinned, and kept no change of them) left them so: a's faces pinned to a for good, by
    # no correction standing, for every re-derivation to keep together.
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000d74", "a")
    b = found(stack, "0000000000000d75", "b")
    renamed = ident.rename(a, "Ana")
    merged = ident.merge([a, b])
    caught_up(analytics, merged)
    caught_up(analytics, ident.undo(renamed.audit.audit_id))
    caught_up(analytics, ident.undo(merged.audit.audit_id))
    assert pins(registry, a) == {""}, "nothing pins them any more"
    assert pins(registry, b) == {""}


def test_a_pin_a_later_hide_kept_through_an_undone_rename_goes_when_the_hide_is_undone_too(stack) -> None:
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000d76", "a")
    renamed = ident.rename(a, "Ana")
    hidden = ident.hide(a, True)
    caught_up(analytics, hidden)
    caught_up(analytics, ident.undo(renamed.audit.audit_id))
    assert pins(registry, a) == {a}, "the hide still stands: it pins them"
    caught_up(analytics, ident.undo(hidden.audit.audit_id))
    assert pins(registry, a) == {""}, "nothing pins them any more"


def test_a_pin_two_later_corrections_kept_through_an_undone_rename_stays_until_both_are_undone(stack) -> None:
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000d77", "a")
    b = found(stack, "0000000000000d78", "b")
    renamed = ident.rename(a, "Ana")
    hidden = ident.hide(a, True)
    merged = ident.merge([a, b])
    caught_up(analytics, merged)
    caught_up(analytics, ident.undo(renamed.audit.audit_id))
    caught_up(analytics, ident.undo(merged.audit.audit_id))
    assert pins(registry, a) == {a}, "the hide still stands: it pins them"
    caught_up(analytics, ident.undo(hidden.audit.audit_id))
    assert pins(registry, a) == {""}, "nothing pins them any more"


def test_a_rename_to_the_name_it_has_answers_with_the_feeds_head_not_position_0(stack) -> None:
    # Before: feed_position 0, so that a page renaming to the name another page had just given waited for
    # nothing and showed the old name; every other correction that changes nothing answers with the head.
    ident, analytics = clients(stack)
    a = found(stack, "0000000000000d79", "a")
    renamed = ident.rename(a, "Ana")
    again = ident.rename(a, " Ana ")
    assert not again.audit.audit_id and again.labels[0].name == "Ana"
    assert again.feed_position == renamed.feed_position == stack.identity.feed.head() > 0
    unnamed = ident.rename(found(stack, "0000000000000d7a", "b"), "")
    assert not unnamed.audit.audit_id and unnamed.feed_position == stack.identity.feed.head()
