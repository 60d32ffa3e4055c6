"""The audit trail over gRPC: every correction leaves one row in analytics' audit table saying who, when, what and
the ids before and after; a replay of the feed adds none; an erased id is kept only as a keyed hash and taken out
of earlier rows; UndoCorrection reverts a correction and is audited itself."""

import hashlib
import hmac
import json

import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from test_corrections import BAND, CLOSE, near
from test_registry import CENTRES, person, video
from test_review_queue import caught_up, found, record, someone

from influencers.v1 import analytics_pb2_grpc, identity_pb2, identity_pb2_grpc
from services.analytics import store_audit
from services.analytics.audit import describe
from services.common.clients import GrpcAnalytics, GrpcIdentity
from services.common.rpc import open_channel
from services.identity.process import IdentityProcess
from tests.support.following import identity_and_analytics

KEY = "a deployment's audit key"


@pytest.fixture
def stack(settings):
    """Identity and analytics on loopback, analytics following identity's feed; the audit key set."""
    settings = settings.replace(audit_key=KEY)
    with identity_and_analytics(settings) as running:
        yield running


def clients(stack, actor=""):
    s = stack.settings
    ident = GrpcIdentity(identity_pb2_grpc.IdentityServiceStub(
        open_channel(f"127.0.0.1:{s.identity_port}", "", actor=actor)), 30)
    analytics = GrpcAnalytics(analytics_pb2_grpc.AnalyticsServiceStub(
        open_channel(f"127.0.0.1:{s.analytics_port}", "")), 30)
    return ident, analytics


def trail(stack):
    return stack.store.audit_rows()[::-1]  # oldest first


def raw_table(stack) -> str:
    """Every byte of the audit table, as text."""
    with stack.store._engine.connect() as c:
        return json.dumps([list(map(str, r)) for r in c.execute(sa.text("SELECT * FROM audit")).all()])


def test_every_correction_kind_leaves_one_row_with_who_when_and_the_ids_before_and_after(stack):
    ident, analytics = clients(stack, actor="cli:alice")
    registry = stack.identity.registry
    a = record(stack, "00000000000000c1", registry.assign("00000000000000c1", video(someone(CENTRES["a"], 1))))
    record(stack, "00000000000000c2", registry.assign("00000000000000c2", video(near(0, CLOSE))))
    b = record(stack, "00000000000000c3", registry.assign("00000000000000c3", video(someone(BAND, 2))))
    c = found(stack, "00000000000000c4", "c")
    d = found(stack, "00000000000000c5", "d")
    for reply in (ident.rename(a, "Ana"), ident.rename(b, "Tony"), ident.hide(c, True), ident.hide(c, False),
                  ident.move("00000000000000c2", a), ident.answer(a, c, identity_pb2.REVIEW_ANSWER_DIFFERENT),
                  ident.answer(a, d, identity_pb2.REVIEW_ANSWER_SKIP), ident.merge([a, b])):
        caught_up(analytics, reply)
        assert reply.audit.audit_id and reply.audit.actor == "cli:alice"
    rows = trail(stack)
    assert [r.action for r in rows] == ["rename", "rename", "hide", "unhide", "move", "review different",
                                        "review skip", "merge"]
    assert {r.actor for r in rows} == {"cli:alice"}
    assert all(r.time_utc.endswith("+00:00") and r.time_s > 1.7e9 for r in rows)
    assert [describe(r) for r in rows[:2]] == ["Named " + a + " 'Ana'", "Named " + b + " 'Tony'"]
    merge = rows[-1]
    assert (merge.before_ids, merge.after_ids, merge.videos, merge.faces) == ((b,), (a,), 1, 3)
    assert rows[0].faces == 0, "a name pins faces in place: none moved"
    assert describe(merge) == "Merged Tony into Ana: 1 video"
    move = rows[4]
    assert move.before_ids == (a,) and move.after_ids and move.after_ids[0] not in (a, b) and move.videos == 1
    assert all(r.undoable for r in rows), "each of these can be undone"
    positions = [r.position for r in rows]
    assert positions == sorted(positions) and len(set(positions)) == len(rows)


def test_a_replay_of_the_feed_records_nothing_twice(stack):
    ident, analytics = clients(stack)
    a = found(stack, "00000000000000d1", "a")
    caught_up(analytics, ident.rename(a, "Ana"))
    changes, _ = stack.identity.feed.read(0, 1000)
    for change in changes:  # the follower killed before its position was stored: every change again
        stack.store.apply_changes(change.position, {}, {}, audit=None)
    (row,) = trail(stack)
    assert row.actor == "anonymous", "a tokenless loopback caller that does not name itself"
    with stack.store._engine.begin() as c:
        assert store_audit.append(c, row) is False, "the audit id is the key: a second copy is refused"
    assert len(trail(stack)) == 1


def test_an_erasure_keeps_only_a_keyed_hash_and_takes_the_id_and_name_out_of_earlier_rows(stack):
    ident, analytics = clients(stack, actor="cli:bob")
    registry = stack.identity.registry
    a = found(stack, "00000000000000e1", "a")
    b = found(stack, "00000000000000e2", "b")
    caught_up(analytics, ident.rename(a, "Zelda Erasable"))
    caught_up(analytics, ident.answer(a, b, identity_pb2.REVIEW_ANSWER_DIFFERENT))
    reply = ident.delete(a)
    caught_up(analytics, reply)
    rows = trail(stack)
    assert [r.action for r in rows] == ["rename", "review different", "delete"]
    erasure = rows[-1]
    assert erasure.subject_hmac == hmac.new(KEY.encode(), a.encode(), hashlib.sha256).hexdigest()
    assert erasure.before_ids == erasure.after_ids == () and not erasure.undoable
    table = raw_table(stack)
    assert a not in table and "Zelda" not in table, "nothing of the erased person in the trail"
    assert hashlib.sha256(a.encode()).hexdigest() not in table
    assert rows[1].before_ids == ("(erased)", b), "the earlier rows keep the others"
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(reply.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, "an erasure is final"
    side = list(registry.store.side_records("audit"))
    assert [r["subject_hmac"] for r in side] == [erasure.subject_hmac]
    assert not [r for r in registry.store.side_records("undo") if a in json.dumps(r)], "undo records forget them"


def test_an_erasure_takes_the_id_and_name_out_of_the_audit_entries_of_identitys_feed_too(stack):
    # Was: the feed's entries before kept the rename's and the merge's audit entries whole: a reader of ListChanges
    # (or a follower replaying it) found "Zelda Erasable" and the erased id
    ident, analytics = clients(stack)
    a = found(stack, "0000000000000e11", "a")
    b = found(stack, "0000000000000e12", "b")
    caught_up(analytics, ident.rename(a, "Zelda Erasable"))
    caught_up(analytics, ident.answer(a, b, identity_pb2.REVIEW_ANSWER_DIFFERENT))
    caught_up(analytics, ident.delete(a))
    changes, _ = stack.identity.feed.read(0, 1000)
    assert not [c.position for c in changes if a in str(c) or "Zelda" in str(c)]
    rename, different = (c.audit for c in changes[:2])
    assert (list(rename.before_ids), rename.after_name) == (["(erased)"], "")
    assert list(different.before_ids) == ["(erased)", b], "the other person stays"


def test_an_erasure_takes_the_older_ids_merged_into_the_person_out_of_the_trail_and_the_feed(stack):
    # b named, then merged into a, then a erased: was "Named inf_b 'Zelda Older'" and "Merged inf_b into (erased)"
    # kept in analytics' trail and identity's feed, the person's name and older id with them
    ident, analytics = clients(stack, actor="cli:bob")
    a = found(stack, "0000000000000e21", "a")
    b = found(stack, "0000000000000e22", "b")
    caught_up(analytics, ident.rename(b, "Zelda Older"))
    caught_up(analytics, ident.merge([a, b]))
    caught_up(analytics, ident.delete(a))
    table = raw_table(stack)
    assert a not in table and b not in table and "Zelda" not in table
    assert [(r.action, r.before_ids, r.after_ids) for r in trail(stack)] == [
        ("rename", ("(erased)",), ("(erased)",)), ("merge", ("(erased)",), ("(erased)",)), ("delete", (), ())]
    changes, _ = stack.identity.feed.read(0, 1000)
    assert not [c.position for c in changes if a in str(c) or b in str(c) or "Zelda" in str(c)]


def test_undo_puts_a_merge_back_and_is_itself_audited_and_a_second_undo_changes_nothing(stack):
    ident, analytics = clients(stack, actor="cli:carol")
    a = found(stack, "00000000000000f1", "a")
    b = found(stack, "00000000000000f2", "b")
    caught_up(analytics, ident.rename(b, "Tony"))
    merged = ident.merge([a, b])
    caught_up(analytics, merged)
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000f2")} == {a}
    undone = ident.undo(merged.audit.audit_id)
    caught_up(analytics, undone)
    assert {r.influencer_id for r in stack.store.appearances_in("00000000000000f2")} == {b}
    assert stack.store.names() == {b: "Tony"}, "the merged-away name is back"
    rows = trail(stack)
    assert [r.action for r in rows] == ["rename", "merge", "undo"]
    assert rows[-1].undoes == merged.audit.audit_id and rows[-1].actor == "cli:carol" and rows[-1].videos == 1
    again = ident.undo(merged.audit.audit_id)
    assert not again.audit.audit_id and len(trail(stack)) == 3, "a double submit: nothing changes"
    # The undo's own id (on /audit and in audit.csv): was "no undo is kept ... (an erasure or an enrolment cannot
    # be undone, and only the newest corrections can)", of the newest correction, neither of those.
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(undone.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert err.value.details() == (f"correction '{undone.audit.audit_id}' is an undo, which is not undone itself: "
                                   "make the correction again")


def test_an_undo_refuses_when_a_later_correction_changed_the_same_people(stack):
    ident, analytics = clients(stack)
    a = found(stack, "0000000000000a01", "a")
    b = found(stack, "0000000000000a02", "b")
    first = ident.rename(a, "Ana")
    caught_up(analytics, ident.rename(a, "Anna"))
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(first.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "later" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        ident.undo("not-an-audit-id")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    split = ident.split(b, ["0000000000000a02"])
    caught_up(analytics, split)
    (new,) = {r.influencer_id for r in stack.store.appearances_in("0000000000000a02")}
    assert new != b
    caught_up(analytics, ident.undo(split.audit.audit_id))
    assert {r.influencer_id for r in stack.store.appearances_in("0000000000000a02")} == {b}


def test_an_undo_refused_for_a_later_correction_names_it_and_works_once_that_is_undone(stack):
    ident, analytics = clients(stack)
    a = found(stack, "0000000000000a11", "a")
    first, second = ident.rename(a, "Ana"), ident.rename(a, "Anna")
    caught_up(analytics, second)
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(first.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details().endswith(f"undo the later correction {second.audit.audit_id} first")
    caught_up(analytics, ident.undo(second.audit.audit_id))
    caught_up(analytics, ident.undo(first.audit.audit_id))
    assert stack.store.names() == {}


def test_an_undo_whose_later_correction_cannot_be_undone_says_so_instead_of_asking_to_undo_it(stack):
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000a21", "a")
    first, second = ident.rename(a, "Ana"), ident.rename(a, "Anna")
    caught_up(analytics, second)
    registry.store.set_side("undo", second.audit.audit_id, None)  # dropped, as 500 newer corrections drop it
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(first.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "cannot be undone now; correct it again instead" in err.value.details()
    assert "undo the later correction" not in err.value.details()


def test_an_undo_of_a_hide_whose_person_was_merged_then_erased_is_refused_naming_the_erasure(stack):
    # hide X, merge X into Y, erase Y, undo the hide: was "undo the later correction first", of the merge, whose
    # undo the erasure had removed; and the hide's undo record kept X's id and faces after the erasure
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    x = found(stack, "0000000000000a31", "a")
    y = found(stack, "0000000000000a32", "b")
    hidden = ident.hide(x, True)
    merged = ident.merge([y, x])
    caught_up(analytics, ident.delete(y))
    for correction in (hidden, merged):
        with pytest.raises(grpc.RpcError) as err:
            ident.undo(correction.audit.audit_id)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert err.value.details() == (f"correction '{correction.audit.audit_id}' cannot be undone any more: a "
                                       "person it touched was erased since (an erasure is final)")
    kept = json.dumps([*registry.store.side_records("undo"), *registry.store.side_records("review"),
                       *registry.store.side_records("merged")])
    assert x not in kept and y not in kept, "no record keeps the erased person's ids, the older one included"


@pytest.mark.parametrize("answer", [False, True], ids=["merge", "review same"])
def test_merging_a_hidden_influencer_into_a_shown_one_hides_the_survivor_and_undo_puts_both_flags_back(stack, answer):
    # Was: the merged-away flag was dropped, and the person the analyst had marked "not an influencer" was counted
    # in the survivor's statistics
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    x = found(stack, "0000000000000a41", "a")
    y = found(stack, "0000000000000a42", "b")
    record(stack, "0000000000000a43", registry.assign("0000000000000a43", video(person(1, "b"))))
    caught_up(analytics, ident.hide(x, True))
    merged = ident.answer(x, y, identity_pb2.REVIEW_ANSWER_SAME) if answer else ident.merge([y, x])
    caught_up(analytics, merged)
    assert {f.record.influencer_id for f in registry.store.faces_in(["0000000000000a41"])} == {y}
    assert registry.store.hidden() == stack.store.hidden() == {y}
    assert {(x.influencer_id, x.hidden) for x in merged.labels} >= {(y, True)}
    caught_up(analytics, ident.undo(merged.audit.audit_id))
    assert registry.store.hidden() == stack.store.hidden() == {x}


def test_the_cli_says_that_a_merge_with_a_hidden_influencer_left_the_survivor_hidden(stack, capsys):
    from influencers.cli import main

    ident, analytics = clients(stack)
    x = found(stack, "0000000000000a51", "a")
    y = found(stack, "0000000000000a52", "b")
    caught_up(analytics, ident.hide(x, True))
    ports = ["--identity-port", str(stack.settings.identity_port),
             "--analytics-port", str(stack.settings.analytics_port)]
    assert main(["merge", y, x, "--into", y, *ports]) == 0
    assert (f"{y} is hidden (not an influencer), as one of those merged was: left out of the statistics; "
            f"`influencers unhide {y}` counts them") in capsys.readouterr().out


def test_the_cli_says_in_words_which_merge_an_undo_took_back_and_what_came_back(stack, capsys):
    # Was "Undid correction 5f0e...: 1 video, 3 faces back (audit ...)": the id of the merge, not the merge
    from influencers.cli import main

    ident, analytics = clients(stack)
    a = found(stack, "0000000000000a61", "a")
    b = found(stack, "0000000000000a62", "b")
    caught_up(analytics, ident.rename(a, "Ana"))
    caught_up(analytics, ident.rename(b, "Tony"))
    merged = ident.merge([a, b])
    caught_up(analytics, merged)
    ports = ["--identity-port", str(stack.settings.identity_port),
             "--analytics-port", str(stack.settings.analytics_port)]
    assert main(["undo", merged.audit.audit_id, *ports]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith('Undid "Merged Tony into Ana: 1 video": 1 video, 3 faces back (audit ')
    assert said[1] == "1 video changed people"


def test_a_merge_undone_leaves_no_record_that_would_send_a_later_correction_of_the_id_to_the_other(stack):
    # merge x into y, undo it, move x's only appearance to a new influencer, then merge [z, x] from a page still
    # showing x: was y merged into z (x's merge record, kept through the undo, stood for y), another person's faces
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    x = found(stack, "0000000000000a71", "a")
    y = found(stack, "0000000000000a72", "b")
    z = found(stack, "0000000000000a73", "c")
    merged = ident.merge([y, x])
    caught_up(analytics, ident.undo(merged.audit.audit_id))
    caught_up(analytics, ident.move("0000000000000a71", x))
    with pytest.raises(grpc.RpcError) as err:
        ident.merge([z, x])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and err.value.details() == f"no influencer '{x}'"
    assert len(registry.store.faces_of(y)) == 3 and len(registry.store.faces_of(z)) == 3, "nobody merged"


def test_an_actor_is_cleaned_and_bounded_and_a_caller_with_the_token_is_token():
    from services.identity.audit import ACTOR_CHARS, actor_of

    assert actor_of([("x-influencers-actor", "page:signed-in \u202e\x1b[31m")], False) == "page:signed-in ??[31m"
    assert len(actor_of([("x-influencers-actor", "x" * 1000)], True)) == ACTOR_CHARS
    assert actor_of([], True) == "token" and actor_of(None, False) == "anonymous"


def test_the_cli_says_what_a_correction_did_with_its_audit_id_and_undoes_it_as_its_os_user(stack, capsys):
    import getpass

    from influencers.cli import main

    a = found(stack, "0000000000000c01", "a")
    ports = ["--identity-port", str(stack.settings.identity_port),
             "--analytics-port", str(stack.settings.analytics_port)]
    assert main(["rename", a, "Ana", *ports]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    (audit_id,) = __import__("re").findall(r"`influencers undo ([0-9a-f]{32})[^`]*` reverts it", line)
    assert line.startswith(f"Named {a} 'Ana' (audit {audit_id}")
    # The undo it offers reaches the services as this command did: pasted as it is, it works (it was
    # `influencers undo ID` alone, which looked for identity at the default port).
    assert f"`influencers undo {audit_id} {' '.join(ports)}` reverts it" in line
    assert main(["undo", audit_id, *ports]) == 0
    assert capsys.readouterr().out.startswith(f"Undid the rename of {a}: no name again (audit ")
    assert stack.store.names() == {}
    assert main(["undo", audit_id, *ports]) == 0
    assert capsys.readouterr().out == f"correction {audit_id} was undone already: nothing changed\n"
    assert [(r.action, r.actor) for r in trail(stack)] == [("rename", f"cli:{getpass.getuser()}")] * 1 + [
        ("undo", f"cli:{getpass.getuser()}")]
    assert main(["undo", "0" * 32, *ports]) != 0
    said = capsys.readouterr().err
    # What to do with an id that may be mistyped (was: the causes alone): said whole, not cut short.
    assert "no undo is kept" in said and "corrections can; check the id on /audit or in audit.csv)" in said, said


def test_without_a_configured_key_one_is_made_once_in_the_data_dir_readable_by_its_owner_only(tmp_path):
    from services.identity.audit import KEY_FILE, audit_key

    key = audit_key("", tmp_path)
    assert len(key) == 32 and (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert audit_key("", tmp_path) == key, "the same key at every start: hashes stay comparable"
    (tmp_path / KEY_FILE).chmod(0o644)
    assert audit_key("", tmp_path) == key and (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert audit_key("set by the operator", tmp_path) == b"set by the operator"


def test_a_key_file_left_empty_by_a_kill_is_replaced_and_the_start_goes_on(tmp_path):
    # The key was written into the file just created: a kill in between left it empty, and every start after
    # ended in a traceback ("holds no audit key (delete it to make a new one)"). No hash was made with it.
    from services.identity.audit import KEY_FILE, audit_key

    (tmp_path / KEY_FILE).parent.mkdir(parents=True)
    (tmp_path / KEY_FILE).write_text("")
    key = audit_key("", tmp_path)
    assert len(key) == 32 and audit_key("", tmp_path) == key
    assert [p.name for p in (tmp_path / KEY_FILE).parent.iterdir()] == ["audit.key"], "no temporary file is left"


@pytest.mark.parametrize("held", ["zz not hex\n", "abcd\n", "\xff\xfe"])
def test_a_damaged_key_file_is_refused_naming_it_and_what_to_do(tmp_path, held):
    # Was a traceback (ValueError: non-hexadecimal number found in fromhex() arg at position 0).
    from services.common.damage import StoreDamaged
    from services.identity.audit import KEY_FILE, audit_key

    (tmp_path / KEY_FILE).parent.mkdir(parents=True)
    (tmp_path / KEY_FILE).write_bytes(held.encode("latin-1"))
    with pytest.raises(StoreDamaged) as refused:
        audit_key("", tmp_path)
    message = str(refused.value)
    assert message.startswith(f"the audit key {tmp_path / KEY_FILE} is damaged (") and "\n" not in message
    assert "restore it from a backup, or remove it to make a new one" in message and "INFLUENCERS_AUDIT_KEY" in message


def test_audit_records_of_an_older_release_lose_their_plain_hash_at_start(settings):
    from services.identity.edge_store import EdgeFaceStore

    erased = "inf_0123456789"
    store = EdgeFaceStore(settings.data_dir / "qdrant" / "edge")
    store.set_side("audit", "old", {"time_utc": "2026-01-01T00:00:00+00:00", "action": "delete",
                                    "subject_sha256": hashlib.sha256(erased.encode()).hexdigest()})
    identity = IdentityProcess(settings, store)
    try:
        (kept,) = list(store.side_records("audit"))
        assert "subject_sha256" not in kept and kept["action"] == "delete" and kept["time_utc"].startswith("2026")
        assert hashlib.sha256(erased.encode()).hexdigest() not in json.dumps(kept)
    finally:
        identity.stop(1.0)


def test_identity_keeps_the_undo_records_of_the_newest_corrections_only(registry):
    from services.identity import undo

    empty = {"faces": {}, "names": {"inf_0000000001": ["", "A"]}, "hidden": {}, "review": {}, "ids": []}
    for n in range(undo.KEEP + 2):
        undo.keep(registry.store, f"{n:032x}", empty, "2026-12-04T00:00:00+00:00")
    kept = {r["audit_id"] for r in registry.store.side_records(undo.KIND)}
    assert len(kept) == undo.KEEP and f"{0:032x}" not in kept and f"{undo.KEEP + 1:032x}" in kept
    with pytest.raises(KeyError, match="no undo is kept"):
        undo.revert(registry.store, f"{1:032x}")


class _StopsAt:
    """A face store that stops (raises) at its `at`-th write of side records, as a start killed there would."""

    def __init__(self, store, at: int) -> None:
        self.store, self.at, self.writes = store, at, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def _write(self) -> None:
        self.writes += 1
        if self.writes == self.at:
            raise KeyboardInterrupt("stopped here")

    def set_side(self, kind, key, value):
        self._write()
        return self.store.set_side(kind, key, value)

    def clear_side(self, kind):
        self._write()
        return self.store.clear_side(kind)


def test_a_start_stopped_at_any_write_of_the_plain_hash_scrub_loses_no_audit_record(tmp_path):
    # The scrub cleared every audit record, then wrote each back: a start killed in between lost them all.
    from services.identity.corrections import scrub_plain_hashes
    from services.identity.edge_store import EdgeFaceStore

    store = EdgeFaceStore(tmp_path / "edge")
    old = [{"time_utc": f"2026-01-0{n}T00:00:00+00:00", "action": "delete",
            "subject_sha256": hashlib.sha256(f"inf_000000000{n}".encode()).hexdigest()} for n in (1, 2)]

    def older_releases_records() -> None:
        store.clear_side("audit")
        for n, stored in enumerate(old):
            store.set_side("audit", f"old{n}", stored)
        store.set_side("audit", "new", {"key": "new", "time_utc": "2026-02-01T00:00:00+00:00", "action": "rename"})

    at = 1
    while True:
        older_releases_records()
        stopping = _StopsAt(store, at)
        try:
            scrub_plain_hashes(stopping)
        except KeyboardInterrupt:
            at += 1
        else:
            break
        scrub_plain_hashes(store)  # the next start
        kept = sorted(store.side_records("audit"), key=lambda r: r["time_utc"])
        assert [(r["time_utc"], r["action"]) for r in kept] == [
            ("2026-01-01T00:00:00+00:00", "delete"), ("2026-01-02T00:00:00+00:00", "delete"),
            ("2026-02-01T00:00:00+00:00", "rename")], f"stopped at write {at - 1}"
        assert not any("subject_sha256" in r for r in kept)
        assert scrub_plain_hashes(store) == 0 and not list(store.side_records("audit-scrubbed"))
    assert at > 5  # every write of the scrub was a stopping point


def test_a_rename_an_enrolment_under_the_same_name_relied_on_is_no_longer_undone(stack):
    # Before: rename a to Ann, enrol photos of Ann (they match a), then the rename's Undo: the enrolled person was
    # left unnamed and their faces unpinned, the enrolment (which cannot be undone) silently undone in part
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000a31", "a")
    b = found(stack, "0000000000000a32", "b")
    renamed = ident.rename(a, "Ann")
    other = ident.rename(b, "Bo")  # of someone else: still undoable
    caught_up(analytics, other)
    photo = CENTRES["a"] + np.random.default_rng(7).normal(scale=0.02, size=128)
    assert registry.enrol("Ann", [("00000000000000f7", photo)])[0] == a
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(renamed.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details().startswith(f"photos were enrolled for {a} since correction {renamed.audit.audit_id}")
    assert registry.names() == {a: "Ann", b: "Bo"} and {f.record.pinned for f in registry.store.faces_of(a)} == {a}
    caught_up(analytics, ident.undo(other.audit.audit_id))
    later = ident.rename(a, "Ann Lee")  # made after the enrolment: undone as any
    caught_up(analytics, ident.undo(later.audit.audit_id))
    assert registry.names() == {a: "Ann"}


@pytest.mark.parametrize("label", ["name", "hidden"])
def test_an_undo_that_would_label_someone_merged_away_since_is_refused_naming_the_merge(stack, label):
    # Before: rename a to Ana, clear the name (or hide a, then unhide), merge a into b, then the clear's (or the
    # unhide's) undo: 'Ana' (or the hidden flag) went back on a, which had no face any more, shown nowhere
    ident, analytics = clients(stack)
    registry = stack.identity.registry
    a = found(stack, "0000000000000a41", "a")
    b = found(stack, "0000000000000a42", "b")
    if label == "name":
        ident.rename(a, "Ana")
        cleared = ident.rename(a, "")
    else:
        ident.hide(a, True)
        cleared = ident.hide(a, False)
    merged = ident.merge([b, a])
    caught_up(analytics, merged)
    with pytest.raises(grpc.RpcError) as err:
        ident.undo(cleared.audit.audit_id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.details().endswith(f"undo the later correction {merged.audit.audit_id} first")
    assert registry.names() == {} and registry.store.hidden() == set()
    caught_up(analytics, ident.undo(merged.audit.audit_id))
    caught_up(analytics, ident.undo(cleared.audit.audit_id))
    assert (registry.names(), registry.store.hidden()) == (({a: "Ana"}, set()) if label == "name" else ({}, {a}))
