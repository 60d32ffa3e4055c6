"""The sentence a correction's message shows quotes a name as the analyst typed it: an emoji's joiners, an
apostrophe and right-to-left script come out whole, never as Python escapes."""

from __future__ import annotations

import pytest

from services.analytics.audit import AuditRow, audit_frame, describe, founded_by
from services.common.names import Known, shared_name_note

FAMILY = "Zoë 👩\u200d👩\u200d👧 O'Brien"


@pytest.mark.parametrize("name", [FAMILY, 'say "hi"', "مرحبا 42", "<b>&amp;</b>"])
def test_a_rename_message_quotes_the_name_as_typed(name: str) -> None:
    row = AuditRow("a" * 32, "rename", "page", 0.0, before_ids=("inf_aaaa000001",), after_ids=("inf_aaaa000001",),
                   before_name="Old", after_name=name)
    assert describe(row) == f"Named inf_aaaa000001 '{name}' (was 'Old')"
    removed = AuditRow("b" * 32, "rename", "page", 0.0, before_ids=("inf_aaaa000001",), before_name=name)
    assert describe(removed) == f"Removed the name '{name}' of inf_aaaa000001"


def test_the_shared_name_note_quotes_the_name_as_typed() -> None:
    note = shared_name_note(FAMILY, [Known("inf_bbbb000002", FAMILY, 3)])
    assert note.startswith(f"Also named '{FAMILY}': inf_bbbb000002 (3 videos)")
    assert "\\u200d" not in note and "\\'" not in note


def test_an_undo_says_which_correction_it_took_back() -> None:
    merge = AuditRow("m" * 32, "merge", "page", 0.0, before_ids=("inf_bbbb000002",), after_ids=("inf_aaaa000001",),
                     names={"inf_aaaa000001": "Ana"}, videos=9, faces=51, undoable=True)
    undo = AuditRow("u" * 32, "undo", "page", 1.0, videos=9, faces=51, undoes=merge.audit_id)
    assert describe(undo, merge) == 'Undid "Merged inf_bbbb000002 into Ana: 9 videos": 9 videos, 51 faces back'
    rename = AuditRow("r" * 32, "rename", "page", 0.0, before_ids=("inf_aaaa000001",), after_name="Ana")
    assert describe(AuditRow("v" * 32, "undo", "page", 1.0, undoes=rename.audit_id), rename) == \
        "Undid \"Named inf_aaaa000001 'Ana'\""
    # The reverted row not at hand (the CLI has the undo's entry alone): named by its audit id.
    assert describe(undo) == f"Undid correction {merge.audit_id}: 9 videos, 51 faces back"
    assert describe(AuditRow("w" * 32, "undo", "page", 1.0)) == "Undid a correction"
    assert list(audit_frame([undo, merge])["what"])[0] == describe(undo, merge)


def test_an_undo_that_moved_no_face_says_no_zero_counts_even_when_the_reverted_row_is_not_at_hand() -> None:
    # `influencers undo` of a rename printed "Undid correction ...: 0 videos, 0 faces back", as if it did nothing
    undo = AuditRow("u" * 32, "undo", "cli", 1.0, undoes="r" * 32)
    assert describe(undo) == f"Undid correction {'r' * 32}"


def test_a_merge_whose_name_followed_the_survivor_names_both_by_their_ids() -> None:
    # Merging the named one into an unnamed one said "Merged Tony Blair into Tony Blair: 16 videos"
    names = {"inf_aaaa000001": "Tony Blair", "inf_bbbb000002": "Tony Blair"}
    merge = AuditRow("m" * 32, "merge", "cli", 0.0, before_ids=("inf_aaaa000001",), after_ids=("inf_bbbb000002",),
                     names=names, videos=16)
    assert describe(merge) == "Merged Tony Blair (inf_aaaa000001) into Tony Blair (inf_bbbb000002): 16 videos"


def test_an_enrolment_names_the_influencer_its_photos_matched_and_says_no_zero_count() -> None:
    # Was "Enrolled Colin Powell from photos: 0 videos changed", of an enrolment that named a 20-video influencer
    enrol = AuditRow("e" * 32, "enrol", "page", 0.0, after_ids=("inf_aaaa000001",), after_name="Colin Powell")
    assert describe(enrol) == "Enrolled Colin Powell from photos as inf_aaaa000001"
    moved = AuditRow("f" * 32, "enrol", "page", 0.0, after_ids=("inf_aaaa000001",), after_name="Colin", videos=2)
    assert describe(moved) == "Enrolled Colin from photos as inf_aaaa000001: 2 videos changed"


def test_the_cli_says_what_an_undo_took_back_from_its_entry_alone() -> None:
    # `influencers undo` printed "Undid correction 5f0e...: 1 video, 3 faces back": an id, not what was undone
    from influencers.cli.corrections import undo_sentence
    from influencers.v1 import identity_pb2

    def undo(action: int, before: list[str], after: list[str], names: dict[str, str], videos: int = 0,
             faces: int = 0) -> identity_pb2.AuditEntry:
        return identity_pb2.AuditEntry(audit_id="u" * 32, action=identity_pb2.AUDIT_ACTION_UNDO, before_ids=before,
                                       after_ids=after, names=names, videos=videos, faces=faces, undoes="m" * 32,
                                       undoes_action=action)  # type: ignore[arg-type]

    a, b = "inf_aaaa000001", "inf_bbbb000002"
    merge = undo(identity_pb2.AUDIT_ACTION_MERGE, [a], [b], {a: "Ana", b: "Tony"}, videos=3, faces=12)
    assert undo_sentence(merge) == 'Undid "Merged Tony into Ana: 3 videos": 3 videos, 12 faces back'
    split = undo(identity_pb2.AUDIT_ACTION_SPLIT, [a, f"{a}s"], [a], {}, videos=2, faces=6)
    assert undo_sentence(split) == f'Undid "Split {a}: 2 videos to a new influencer, {a}s": 2 videos, 6 faces back'
    assert undo_sentence(undo(identity_pb2.AUDIT_ACTION_HIDE, [a], [a], {a: "Ana"})) == \
        'Undid "Marked Ana as not an influencer"'
    assert undo_sentence(undo(identity_pb2.AUDIT_ACTION_RENAME, [a], [a], {a: "Ana"})) == \
        f"Undid the rename of {a}: named 'Ana' again"
    assert undo_sentence(undo(identity_pb2.AUDIT_ACTION_RENAME, [a], [a], {})) == \
        f"Undid the rename of {a}: no name again"
    older = undo(identity_pb2.AUDIT_ACTION_UNSPECIFIED, [a], [b], {}, videos=1, faces=3)
    assert undo_sentence(older) == f"Undid correction {'m' * 32}: 1 video, 3 faces back", "an older identity's entry"


def test_every_sentence_naming_two_namesakes_tells_them_apart_by_their_ids() -> None:
    # Was "Kept Tony and Tony apart", "Moved an appearance of Tony to Tony": as if nothing had happened
    a, b, c = "inf_aaaa000001", "inf_bbbb000002", "inf_cccc000003"
    names = {a: "Tony", b: "tony ", c: "Ana"}  # one name as fold compares them

    def said(action: str, before: tuple[str, ...], after: tuple[str, ...]) -> str:
        return describe(AuditRow("d" * 32, action, "cli", 0.0, before_ids=before, after_ids=after, names=names,
                                 videos=1))

    assert said("review different", (a, b), (a, b)) == f"Kept Tony ({a}) and tony  ({b}) apart"
    assert said("review skip", (a, b), (a, b)) == f"Skipped the question about Tony ({a}) and tony  ({b})"
    assert said("move", (a,), (b,)) == f"Moved an appearance of Tony ({a}) to tony  ({b}): 1 video"
    assert said("review same", (a, c), (b,)) == f"Merged Tony ({a}) and Ana into tony  ({b}): 1 video"
    assert said("review different", (a, c), (a, c)) == "Kept Tony and Ana apart", "no id where names differ"


def test_a_move_to_a_new_influencer_says_it_went_to_a_new_influencer_not_to_a_bare_id() -> None:
    # Was "Moved an appearance of Ana to inf_aaaa000001s: 1 video": the new influencer's id alone, its suffix read
    # as a typo ("inf_…s"), and nothing said that the move founded someone
    a, new = "inf_aaaa000001", "inf_bbbb000002s"
    move = AuditRow("m" * 32, "move", "page", 0.0, before_ids=(a,), after_ids=(new,), names={a: "Ana"}, videos=1,
                    position=5)
    assert founded_by(move, set()) == {new}
    assert describe(move, founded=founded_by(move, set())) == \
        f"Moved an appearance of Ana to a new influencer, {new}: 1 video"
    assert founded_by(move, {new}) == set(), "named by an earlier row: it was there before (a move into it)"
    assert describe(move) == f"Moved an appearance of Ana to {new}: 1 video"
    found = AuditRow("n" * 32, "move", "page", 0.0, before_ids=(a,), after_ids=("inf_cccc000003",), videos=1)
    assert founded_by(found, set()) == set(), "a face-found id (no suffix) is nobody a move founded"
    split = AuditRow("s" * 32, "split", "page", 0.0, before_ids=(a,), after_ids=(a, new), videos=2)
    assert describe(split) == f"Split {a}: 2 videos to a new influencer, {new}"
    # audit.csv: the first move to `new` founded it; a later one into it is a plain move
    again = AuditRow("o" * 32, "move", "page", 1.0, before_ids=(a,), after_ids=(new,), videos=1, position=7)
    assert list(audit_frame([again, move])["what"]) == [
        f"Moved an appearance of {a} to {new}: 1 video",
        f"Moved an appearance of Ana to a new influencer, {new}: 1 video"]
    # ...but once that first move was undone, a move made after the undo founds `new` again
    undo = AuditRow("u" * 32, "undo", "page", 0.5, before_ids=(new,), after_ids=(a,), undoes=move.audit_id,
                    position=6)
    assert list(audit_frame([again, undo, move])["what"])[0] == \
        f"Moved an appearance of {a} to a new influencer, {new}: 1 video"
