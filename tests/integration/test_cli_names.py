"""The CLI takes a name wherever it takes an influencer id: an exact id wins, a name shared by several
influencers is refused listing them, a name nobody has is one clear line; merge keeps the page's survivor."""

import os

import pytest
from test_cli_identity import record
from test_registry import person, video

from influencers.cli import main


@pytest.fixture
def people(stack):
    """Three influencers: a in two videos, b and c in one each; returns (ids by letter, the CLI's port flags)."""
    registry = stack.identity.registry
    found = {}
    for video_id, who in (("00000000000000d1", "a"), ("00000000000000d2", "a"), ("00000000000000d3", "b"),
                          ("00000000000000d4", "c")):
        seen = registry.assign(video_id, video(person(0, who)))
        record(stack, video_id, seen)
        found[who] = seen[0].influencer_id
    ports = ["--identity-port", str(stack.settings.identity_port),
             "--analytics-port", str(stack.settings.analytics_port)]
    assert len(set(found.values())) == 3
    return found, ports


def test_a_name_stands_for_its_influencer_in_rename_hide_and_unhide(stack, people, capsys):
    ids, ports = people
    assert main(["rename", ids["c"], "Ann", *ports]) == 0
    assert main(["rename", "  ann ", "Annie Lee", *ports]) == 0, "case and blanks are ignored"
    assert stack.store.names() == {ids["c"]: "Annie Lee"}
    assert main(["hide", "Annie Lee", *ports]) == 0 and stack.store.hidden() == {ids["c"]}
    assert main(["unhide", "annie lee", *ports]) == 0 and stack.store.hidden() == set()


def test_a_rename_to_the_name_it_has_or_clearing_no_name_changes_nothing_and_audits_nothing(stack, people,
                                                                                              capsys):
    ids, ports = people
    assert main(["rename", ids["c"], "", *ports]) == 0
    assert capsys.readouterr().out == f"{ids['c']} has no name already: nothing changed\n"
    assert main(["rename", ids["c"], "Ann", *ports]) == 0
    capsys.readouterr()
    assert main(["rename", ids["c"], " Ann ", *ports]) == 0
    assert capsys.readouterr().out == f"{ids['c']} is already named 'Ann': nothing changed\n"
    assert [row.action for row in stack.store.audit_rows()] == ["rename"], "one correction, the real one"


def test_merge_by_names_keeps_the_influencer_in_the_most_videos_whatever_the_order_given(stack, people, capsys):
    ids, ports = people
    assert main(["rename", ids["b"], "Bea", *ports]) == 0
    assert main(["merge", "Bea", ids["a"], *ports]) == 0
    assert f"merging into {ids['a']}: Bea ({ids['b']})" in capsys.readouterr().out
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000d3")} == {ids["a"]}


def test_merge_into_keeps_the_one_named_by_into(stack, people):
    ids, ports = people
    assert main(["merge", ids["a"], ids["c"], "--into", ids["c"], *ports]) == 0
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000d1")} == {ids["c"]}


def test_a_name_shared_by_two_influencers_is_refused_listing_both_and_nothing_changes(stack, people, capsys):
    ids, ports = people
    assert main(["rename", ids["a"], "Tony", *ports]) == 0
    assert "Also named" not in capsys.readouterr().out
    assert main(["rename", ids["b"], "Tony", *ports]) == 0
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith(f"Also named 'Tony': {ids['a']} (2 videos). The name alone now stands for none"), said
    assert main(["hide", "Tony", *ports]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("influencers: error: hide: 'Tony' names 2 influencers: ")
    assert f"Tony {ids['a']} (2 videos)" in line and f"Tony {ids['b']} (1 video)" in line
    assert stack.store.hidden() == set()
    assert main(["hide", ids["b"], *ports]) == 0 and stack.store.hidden() == {ids["b"]}, "the id still works"


def test_a_name_nobody_has_is_one_line_and_exit_2(stack, people, capsys):
    _, ports = people
    capsys.readouterr()
    assert main(["delete", "Nobody", *ports]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "influencers: error: delete: no influencer is named or has the id 'Nobody' " \
                   f"(see the page, or `influencers review {' '.join(ports)}`)"  # the command as this user can run it


def test_an_empty_job_list_says_so(stack, capsys):
    assert main(["jobs", "--ingest-port", str(stack.settings.ingest_port)]) == 0
    assert capsys.readouterr().out.startswith("no ingest jobs yet")


def test_hiding_someone_hidden_already_says_nothing_changed_and_audits_nothing(stack, people, capsys):
    ids, ports = people
    assert main(["hide", ids["c"], *ports]) == 0
    capsys.readouterr()
    assert main(["hide", ids["c"], *ports]) == 0
    assert capsys.readouterr().out == f"{ids['c']} is already hidden (not an influencer): nothing changed\n"
    assert main(["unhide", ids["b"], *ports]) == 0
    assert capsys.readouterr().out == f"{ids['b']} is not hidden: nothing changed\n"
    assert [row.action for row in stack.store.audit_rows()] == ["hide"], "one correction, the real one"


def test_video_and_audit_ids_pasted_with_blanks_or_in_capitals_are_those_ids(stack, people, capsys):
    # Identity takes ids as given: "00000000000000D1" was a video nobody is in ("no faces in the videos
    # given"), " 00000000000000d1" and " <audit id> " no id at all (INVALID_ARGUMENT), where the influencer
    # arguments beside them already forgave both.
    ids, ports = people
    assert main(["split", f" {ids['a']}", " 00000000000000D1\t", *ports]) == 0
    audit_id = capsys.readouterr().out.split("(audit ")[1].split(";")[0]
    moved_to = {r.influencer_id for r in stack.store.appearances_in("00000000000000d1")}
    assert moved_to and moved_to != {ids["a"]}
    assert main(["undo", f" {audit_id.upper()} ", *ports]) == 0
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000d1")} == {ids["a"]}
    assert main(["move", "00000000000000D2 ", ids["a"], ids["b"], *ports]) == 0
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000d2")} == {ids["b"]}


def test_an_enrol_photo_that_is_a_folder_a_fifo_or_a_device_is_named_for_what_it_is(stack, people, capsys,
                                                                                    tmp_path):
    # Each was "photo '...' not found", which it is not; a FIFO is opened without waiting for a writer.
    ids, ports = people
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "photos").mkdir()
    for path, kind in ((tmp_path / "photos", "a folder"), (tmp_path / "fifo.jpg", "a FIFO"),
                       ("/dev/zero", "a character device")):
        assert main(["enrol", "Ann", str(path), *ports]) == 2
        assert f"is not a regular file ({kind}): give a JPEG or PNG file" in capsys.readouterr().err
    assert main(["enrol", "Ann", str(tmp_path / "nope.jpg"), *ports]) == 2
    assert "nope.jpg' not found" in capsys.readouterr().err
    assert stack.store.names() == {}


def test_answers_moves_and_their_undos_of_two_namesakes_name_each_by_its_id(stack, people, capsys):
    # Printed "Kept Tony and Tony apart", "Moved an appearance of Tony to Tony" and undid "Kept Tony and Tony apart"
    ids, ports = people
    a, b, c = ids["a"], ids["b"], ids["c"]
    for who in (b, c):
        assert main(["rename", who, "Tony", *ports]) == 0
    capsys.readouterr()
    assert main(["answer", b, c, "different", *ports]) == 0
    assert main(["answer", b, c, "different", *ports]) == 0
    out = capsys.readouterr().out
    assert f"Kept Tony ({b}) and Tony ({c}) apart (audit " in out
    assert f"Tony ({b}) and Tony ({c}) were answered 'different' already" in out
    answered = next(r for r in stack.store.audit_rows() if r.action == "review different")
    assert main(["undo", answered.audit_id, *ports]) == 0
    assert capsys.readouterr().out.startswith(f'Undid "Kept Tony ({b}) and Tony ({c}) apart"')
    assert main(["move", "00000000000000d3", b, c, *ports]) == 0
    assert f"Moved an appearance of Tony ({b}) to Tony ({c}): 1 video (audit " in capsys.readouterr().out
    assert main(["answer", a, c, "skip", *ports]) == 0
    assert f"Skipped the question about {a} and Tony (audit " in capsys.readouterr().out, "no id beside a lone name"
