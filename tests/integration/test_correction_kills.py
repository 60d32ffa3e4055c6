"""A correction or an undo killed part way (SIGKILL at a named point, tests/support/erasure_child.py, or at a random
moment of a loop of corrections, tests/support/correction_loop_child.py) is finished at the next start:
identity and analytics agree, the trail lists each correction once, and an undo still reverts exactly what it
reverted."""

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from influencers.stack import Stack, start_stack
from services.common.clients import GrpcAnalytics, GrpcIdentity, connect
from services.identity import journal, undo
from services.identity.corrections import answered_pairs
from services.identity.review import pair_key
from tests.integration.test_erasure_kills import ids_of_child
from tests.integration.test_review_queue import PHOTOS
from tests.support.agreement import assert_analytics_agrees_with_identity
from tests.support.people import BIG, BIG_VIDEO, VIDEOS

ROOT = Path(__file__).resolve().parents[2]
LOOP_CHILD = ROOT / "tests" / "support" / "correction_loop_child.py"


@pytest.fixture
def settings(settings):
    """One face worker: nothing here detects a face, and starting each costs seconds."""
    return replace(settings, workers=1)


def trail(stack, timeout_s: float = 30) -> list[tuple[str, str]]:
    """(action, undoes) of every audit row analytics holds, oldest first, once it has applied identity's feed."""
    _, analytics = connect(stack.settings)
    assert analytics.wait_for_position(stack.identity.feed.head(), timeout_s)
    return [(r.action, r.undoes) for r in reversed(stack.store.audit_rows())]


def apart(truth) -> list[list[str]]:
    """The influencers of each of the two videos (tests/support/people.py), in order."""
    return [sorted(a.influencer_id for a in truth[v]) for v in VIDEOS]


@dataclass
class Restarted:
    """A stack started on the data dir of a child killed part way, once identity and analytics agree."""

    stack: Stack
    ids: list[str]  # the ids the child printed (tests/support/erasure_child.py): its two influencers
    identity: GrpcIdentity
    analytics: GrpcAnalytics
    truth: dict


@contextmanager
def restarted(settings, crash_at: str, op: str, *args: str) -> Iterator[Restarted]:
    """The child's `op` killed at `crash_at`, then a stack on its data dir, stopped on leaving."""
    ids = ids_of_child(settings.data_dir, crash_at, op, *args)
    stack = start_stack(settings, web=False)
    try:
        identity, analytics = connect(stack.settings)
        yield Restarted(stack, ids, identity, analytics, assert_analytics_agrees_with_identity(stack, analytics))
    finally:
        stack.stop()


@pytest.mark.parametrize("crash_at", ["undo:faces", "undo:applied"])
def test_an_undo_killed_part_way_is_finished_at_the_next_start(settings, crash_at):
    with restarted(settings, crash_at, "undo") as r:
        first, second = r.ids
        # The merge is undone: each person is back in their own video, their faces unpinned as before it.
        assert apart(r.truth) == [[first], [second]]
        store = r.stack.identity.registry.store
        assert {f.record.pinned for f in store.faces_of([first, second])} == {""}
        assert not list(store.side_records(journal.KIND)), "nothing is left to replay"
        merge_id = next(row["audit_id"] for row in store.side_records(undo.KIND))
        assert store.get_side(undo.KIND, merge_id)["undone"]
        assert trail(r.stack) == [("merge", ""), ("undo", merge_id)]


def merged_once(r: Restarted):
    """The merge's audit row, once both videos are the survivor's and the merge is audited once."""
    assert {a.influencer_id for v in VIDEOS for a in r.truth[v]} == {r.ids[0]}
    assert [row.action for row in r.stack.store.audit_rows()] == ["merge"], "the merge is audited once"
    return r.stack.store.audit_rows()[0]


def test_a_merge_killed_before_it_was_published_is_finished_and_audited_once(settings):
    with restarted(settings, "correct:applied", "merge") as r:
        row = merged_once(r)
        assert (row.before_ids, row.after_ids, row.actor) == ((r.ids[1],), (r.ids[0],), "anonymous")
        assert not row.undoable, "what it changed was not kept: it cannot be undone (split or move instead)"


def test_a_merge_killed_after_it_was_published_is_audited_once_and_can_be_undone_after_the_restart(settings):
    with restarted(settings, "correct:published", "merge") as r:
        row = merged_once(r)
        assert row.undoable and row.videos == 1
        assert r.analytics.wait_for_position(r.identity.undo(row.audit_id).feed_position, 30)
        truth = assert_analytics_agrees_with_identity(r.stack, r.analytics)
        assert apart(truth) == [[r.ids[0]], [r.ids[1]]]
        assert trail(r.stack) == [("merge", ""), ("undo", row.audit_id)]


def test_a_merge_acknowledged_just_before_a_kill_is_kept(settings):
    with restarted(settings, "correct:acknowledged", "merge") as r:
        merged_once(r)


def test_an_enrolment_killed_before_it_was_published_is_finished_and_audited_once(settings):
    photo = PHOTOS / "colin_powell" / "01.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not present")
    with restarted(settings, "correct:applied", "enrol", str(photo)) as r:
        (colin,) = [i for i, name in r.stack.identity.registry.names().items() if name == "Colin"]
        assert [(row.action, row.after_ids, row.after_name) for row in r.stack.store.audit_rows()] == \
            [("enrol", (colin,), "Colin")]
        assert not list(r.stack.identity.registry.store.side_records(journal.KIND)), "nothing is left to replay"


@pytest.mark.parametrize("op", ["merge-named", "answer-named"])
def test_a_merge_killed_between_moving_the_faces_and_the_names_keeps_the_name_and_holds_through_a_recluster(
        settings, op):
    with restarted(settings, "merge:pinned", op) as r:
        first, second = r.ids
        assert r.stack.identity.registry.names() == {first: "Bo"}, "the survivor takes the name of the one it joined"
        assert r.identity.merge([first, second]).changed_videos == 0, "merged: the id merged away stands for it"
        list(r.identity.recluster((), resync_only=False))
        truth = assert_analytics_agrees_with_identity(r.stack, r.analytics)
        assert {a.influencer_id for v in VIDEOS for a in truth[v]} == {first}
        merged = {"merge-named": "merge", "answer-named": "review same"}[op]
        assert [row.action for row in r.stack.store.audit_rows()] == [merged, "rename"], "audited once"


def test_a_split_killed_as_its_faces_move_holds_through_a_recluster(settings):
    with restarted(settings, "pin:moved", "split") as r:
        first = r.ids[0]
        list(r.identity.recluster((), resync_only=False))
        truth = assert_analytics_agrees_with_identity(r.stack, r.analytics)
        (moved,) = apart(truth)[1]
        assert apart(truth) == [[first], [moved]] and moved != first, "the video split out stays apart"


def test_a_split_killed_once_its_faces_moved_keeps_its_answer_that_the_two_are_different_people(settings):
    with restarted(settings, "pin:moved", "split") as r:
        first = r.ids[0]
        (moved,) = apart(r.truth)[1]
        # Was: the restart's split found no face left to move, and the answer was never recorded.
        assert pair_key(first, moved) in answered_pairs(r.stack.identity.registry.store), \
            "the review queue would ask again whether they are one person"
        assert [row.after_ids for row in r.stack.store.audit_rows() if row.action == "split"] == [(first, moved)], \
            "audited once, naming where the faces went"


def test_a_move_to_a_new_influencer_killed_once_its_faces_moved_keeps_its_answer_and_the_name_follows(settings):
    with restarted(settings, "pin:moved", "move-named") as r:
        second = r.ids[1]
        (moved,) = apart(r.truth)[1]
        # Was: the restart's move found no appearance left to move: no answer, and "Bo" left on the emptied id.
        assert moved != second and pair_key(second, moved) in answered_pairs(r.stack.identity.registry.store)
        assert r.stack.identity.registry.names() == r.stack.store.names() == {moved: "Bo"}
        assert [row.after_ids for row in r.stack.store.audit_rows() if row.action == "move"] == [(moved,)]


def test_a_split_of_more_faces_than_one_write_killed_between_its_writes_is_finished_whole_at_the_next_start(settings):
    with restarted(settings, "pin:chunk", "split-large") as r:
        first = r.ids[0]
        faces = r.stack.identity.registry.store.faces_in(BIG_VIDEO)
        # Was: the faces moved before the kill founded one influencer, the rest another at the restart.
        assert len(faces) == BIG and len({(f.record.influencer_id, f.record.pinned) for f in faces}) == 1
        (moved,) = {a.influencer_id for a in r.truth[BIG_VIDEO]}
        assert moved != first and faces[0].record.pinned == moved
        assert apart(r.truth)[0] == [first], "the first video stays the person's"
        assert pair_key(first, moved) in answered_pairs(r.stack.identity.registry.store)
        assert [row.after_ids for row in r.stack.store.audit_rows() if row.action == "split"] == [(first, moved)]


def test_corrections_killed_at_random_moments_lose_nothing_acknowledged_and_leave_both_services_agreeing(settings):
    rng = random.Random(7)
    acknowledged: list[str] = []
    for round_ in range(1):  # one kill a run (each start of the child costs seconds); the seed varies the moment
        child = subprocess.Popen([sys.executable, str(LOOP_CHILD), str(settings.data_dir), str(round_)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert child.stdout.readline().strip() == "ready"
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(child.stdout,), daemon=True)
        reader.start()
        time.sleep(rng.uniform(0.05, 0.5))
        child.kill()  # SIGKILL, wherever it is: in a correction, its journal, the feed, analytics applying it
        child.wait()
        reader.join(10)
        acknowledged += [line.split()[1] for line in lines if line.startswith("ack ")]
    stack = start_stack(settings, web=False)
    try:
        _, analytics = connect(stack.settings)
        assert_analytics_agrees_with_identity(stack, analytics)
        assert stack.store.hidden() == stack.identity.registry.store.hidden()
        audited = {r.audit_id for r in stack.store.audit_rows()}
        assert acknowledged and set(acknowledged) <= audited, "every correction answered is on the trail"
        assert not list(stack.identity.registry.store.side_records(journal.KIND)), "nothing is left to replay"
    finally:
        stack.stop()
