"""The analytics store answers the same on SQLite and on a real PostgreSQL server: ONE scenario run on both,
every answer compared (as the face store's congruence test does for Edge and the server).

Operations of the scenario, in order:
- record_video: DONE with appearances; the same bytes at a second location (DUPLICATE); DONE of known bytes
  at a third location (stored as DUPLICATE); an unchanged record (False); FAILED without and with a video
  id; a failed rerun of a done row (keeps its result, notes the error); new bytes at a location whose old
  video has a duplicate heir (the heir takes it over); the same relative name in two folders (two videos)
- record_many: new rows, a duplicate of a known video, an unchanged row (counted out)
- update_performance: changed, unchanged (False), a noted error cleared, an unknown row (KeyError)
- replace_appearances with names and labels: a known and an unknown video, a crop reused by face_ref,
  a name, hidden, deleted (erased everywhere)
- apply_changes: a change, its idempotent replay, a change for a video before its RecordVideo, forgotten
  videos, labels; a snapshot resync (snapshot pages + end_snapshot)
- fill_crops, missing_face_refs
- reads after each phase: get_video (by url, location, video_id), list_videos (all, by status),
  list_videos_page (paged through), video_frame, appearance_frame, best_face, appearance_face, names,
  hidden, appearances_of, appearances_in, feed_position
- the audit trail (audit_scenario): rows appended with feed changes, a replayed position (no row), an erasure
  taking the id and names out of earlier rows; audit_page (paged), audit_rows, audit_row, audit_undone,
  audit_leaving (the correction that took an id away: none once undone or erased, the newest of several)
Also: many threads and two store instances (two replicas) writing one PostgreSQL database at once neither
corrupt nor double-count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from services.analytics.records import DONE, DUPLICATE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label

VIDS = [f"{n:016x}" for n in range(1, 9)]
ANN, BOB, CAT, DAN = "inf_00000000aa", "inf_00000000bb", "inf_00000000cc", "inf_00000000dd"


def seen(influencer_id: str, quality: float = 0.5, face: bytes = b"", ref: str = "", first: float = 1.0,
         video_id: str = "") -> AppearanceRow:
    return AppearanceRow(video_id, influencer_id, first, first + 2.5, 3, 2.5, quality, face, quality > 0.8, ref,
                         ((first, first + 2.5, first + 1.0),))


def row(location: str, video_id: str = "", status: int = DONE, performance: float | None = 1.5, error: str = "",
        url: str | None = None) -> VideoRow:
    return VideoRow(url or location.rsplit("/", 1)[-1], video_id, performance, status, error, 12.5, 4,
                    f"ext-{location}", location)


def frame(f: pd.DataFrame) -> tuple[object, ...]:
    return tuple(f.columns), tuple(str(t) for t in f.dtypes), f.to_dict("list")


def reads(store: AnalyticsStore) -> dict[str, object]:
    """Every read of the store, as plain values."""
    paged, after = [], 0
    while True:
        page, after = store.list_videos_page(after=after, limit=2)
        paged.append(page)
        if not after:
            break
    influencers = [ANN, BOB, CAT, DAN, "inf_0000000000"]
    return {
        "by_url": [store.get_video(url=u) for u in ("a.mp4", "b.mp4", "c.mp4", "nope.mp4")],
        "by_location": [store.get_video(location=f"/m{i}/{n}") for i in (1, 2, 3) for n in ("a.mp4", "b.mp4")],
        "by_video_id": [store.get_video(video_id=v) for v in VIDS],
        "list": store.list_videos(),
        "list_failed_dup": store.list_videos([FAILED, DUPLICATE]),
        "pages": paged,
        "done_page": store.list_videos_page([DONE], after=0, limit=100),
        "video_frame": frame(store.video_frame()),
        "appearance_frame": frame(store.appearance_frame()),
        "best_face": [store.best_face(i) for i in influencers],
        "appearance_face": [store.appearance_face(v, i) for v in VIDS for i in influencers],
        "names": store.names(),
        "hidden": sorted(store.hidden()),
        "appearances_of": [store.appearances_of(i) for i in influencers],
        "appearances_in": [store.appearances_in(v) for v in VIDS],
        "missing": store.missing_face_refs(VIDS),
        "position": store.feed_position(),
    }


def scenario(store: AnalyticsStore) -> list[tuple[str, object]]:
    answers: list[tuple[str, object]] = []

    def note(what: str, call: Callable[[], object]) -> None:
        try:
            answers.append((what, call()))
        except (KeyError, ValueError) as exc:
            answers.append((what, f"{type(exc).__name__}: {exc}"))

    v1, v2, v3, v4, v5, v6, v7, v8 = VIDS
    # Manifest rows and their dedupe rules (the embedded path: record_video carries appearances).
    note("done a", lambda: store.record_video(row("/m1/a.mp4", v1), [seen(ANN, 0.9, b"ann1", "ra"),
                                                                      seen(BOB, 0.4, b"bob1", "rb")]))
    note("same bytes elsewhere", lambda: store.record_video(row("/m2/a.mp4", v1, DUPLICATE)))
    note("done of known bytes", lambda: store.record_video(row("/m3/a.mp4", v1), [seen(ANN)]))
    note("unchanged", lambda: store.record_video(row("/m1/a.mp4", v1), [seen(ANN, 0.9, b"ann1", "ra"),
                                                                         seen(BOB, 0.4, b"bob1", "rb")]))
    note("failed without id", lambda: store.record_video(row("/m1/x.mp4", "", FAILED, None, "decode error")))
    note("failed with id", lambda: store.record_video(row("/m1/y.mp4", v2, FAILED, 2.0, "too long")))
    note("two folders", lambda: store.record_video(row("/m1/b.mp4", v3, performance=3.0),
                                                   [seen(CAT, 0.7, b"cat3", "rc", 2.0, v3)]))
    note("two folders 2", lambda: store.record_video(row("/m2/b.mp4", v4, performance=4.0), [seen(CAT, 0.6)]))
    note("failed rerun", lambda: store.record_video(row("/m2/b.mp4", "", FAILED, None, "b.mp4: gone")))
    note("malformed", lambda: store.record_video(row("/m9/z.mp4", "XYZ")))
    note("many", lambda: store.record_many([
        (row("/m3/b.mp4", v5, performance=5.0), [seen(DAN, 0.5, b"dan5", "rd"), seen(ANN, 0.95, b"", "ra")]),
        (row("/m3/c.mp4", v5, DUPLICATE, 5.5), None),
        (row("/m1/a.mp4", v1), [seen(ANN, 0.9, b"ann1", "ra"), seen(BOB, 0.4, b"bob1", "rb")]),
    ]))
    note("bytes changed, heir takes over", lambda: store.record_video(row("/m1/a.mp4", v6, performance=6.0),
                                                                      [seen(BOB, 0.3, b"bob6", "rb6")]))
    note("perf changed", lambda: store.update_performance("/m3/b.mp4", 7.25))
    note("perf same", lambda: store.update_performance("/m3/b.mp4", 7.25))
    note("perf clears note", lambda: store.update_performance("/m2/b.mp4", 4.0))
    note("perf unknown", lambda: store.update_performance("/nowhere.mp4", 1.0))
    note("reads: manifest", lambda: reads(store))
    # Corrections pushed as pages (the path identity's feed replaces).
    note("replace", lambda: store.replace_appearances(
        {v3: [seen(ANN, 0.2, b"", "ra"), seen(CAT, 0.8, b"cat3b", "rc")], v7: [seen(ANN)]},
        {ANN: "Ann", CAT: "Cat"}, [Label(BOB, "Bob", hidden=True), Label(DAN, deleted=True)]))
    note("reads: replaced", lambda: reads(store))
    # Identity's feed.
    note("change 1", lambda: store.apply_changes(1, {v3: [seen(CAT, 0.8, b"", "rc")], v7: [seen(ANN, 0.6, b"", "r7")]},
                                                 {CAT: "Catherine"}, [Label(ANN, "Ann")]))
    note("replay 1", lambda: store.apply_changes(1, {v3: []}, {CAT: "nobody"}))
    note("recorded after its appearances", lambda: store.record_video(row("/m4/a.mp4", v7, performance=7.0), []))
    note("change 2", lambda: store.apply_changes(2, {v8: [seen(DAN, 0.9, b"dan8", "r8")]}, {DAN: "Dan"},
                                                 forgotten=[v4]))
    note("fill", lambda: store.fill_crops({"r7": b"ann7", "r8": b"other", "": b"x"}))
    note("missing", lambda: store.missing_face_refs([v3, v7, v8]))
    note("reads: feed", lambda: reads(store))
    note("snapshot page 1", lambda: store.apply_changes(0, {v1: [seen(ANN, 0.5, b"", "ra")], v3: [seen(CAT)]}, {},
                                                        snapshot=True))
    note("snapshot page 2", lambda: store.apply_changes(0, {v5: [seen(BOB, 0.9, b"bob5")]}, {BOB: "Bob"},
                                                        [Label(BOB, "Bob")], snapshot=True))
    note("snapshot end", lambda: store.end_snapshot(9, [v1, v3, v5]))
    note("record v8 at last", lambda: store.record_video(row("/m4/b.mp4", v8, performance=8.0)))
    note("reads: snapshot", lambda: reads(store))
    return answers


@pytest.fixture
def sqlite_store(tmp_path: Path):
    store = AnalyticsStore(tmp_path / "a.sqlite3")
    yield store
    store.close()


@pytest.fixture
def postgres_store(postgres_url: str):
    store = AnalyticsStore(postgres_url)
    yield store
    store.close()


def test_sqlite_and_postgresql_give_the_same_answer_to_every_operation(sqlite_store, postgres_store) -> None:
    on_sqlite, on_postgres = scenario(sqlite_store), scenario(postgres_store)
    assert [what for what, _ in on_sqlite] == [what for what, _ in on_postgres]
    for (what, a), (_, b) in zip(on_sqlite, on_postgres, strict=True):
        if isinstance(a, dict):
            for key in a:
                assert a[key] == b[key], f"{what}: {key}"
        assert a == b, what


def test_the_scenario_means_something(sqlite_store) -> None:
    """The compared answers are the right ones (both engines could agree on a wrong one)."""
    answers = dict(scenario(sqlite_store))
    assert answers["done a"] is True and answers["unchanged"] is False and answers["many"] == 2
    assert answers["perf same"] is False and answers["perf unknown"].startswith("KeyError")
    assert answers["replay 1"] == [] and answers["fill"] == 1 and answers["missing"] == []  # rc: crop reused
    final = answers["reads: snapshot"]
    assert final["position"] == 9
    assert [(v.location, v.status) for v in final["list"]][:3] == [
        ("/m1/a.mp4", DONE), ("/m2/a.mp4", DONE), ("/m3/a.mp4", DUPLICATE)]
    assert [a.video_id for a in final["appearances_of"][1]] == [VIDS[4]]  # Bob: only what the snapshot carried
    # Dan was erased (change 1): the later change naming him is refused by his tombstone.
    assert final["names"] == {ANN: "Ann", BOB: "Bob", CAT: "Catherine"}
    assert final["appearances_in"][7] == [], "v8's rows went with the snapshot's end"
    fed = answers["reads: feed"]
    assert [a.best_face for a in fed["appearances_in"][6]] == [b"ann7"], "recorded after its appearances"
    assert fed["appearances_in"][3] == [], "forgotten"


def test_threads_of_two_replicas_on_one_postgresql_database_neither_corrupt_nor_double_count(postgres_url) -> None:
    replicas = [AnalyticsStore(postgres_url), AnalyticsStore(postgres_url)]
    contents = [f"{n:016x}" for n in range(1, 9)]
    applied: list[int] = []
    errors: list[BaseException] = []

    def work(t: int) -> None:
        store = replicas[t % 2]
        try:
            for n, video_id in enumerate(contents):  # every thread records every content at its own location
                store.record_video(row(f"/t{t}/{n}.mp4", video_id), [seen(ANN, 0.5, b"j", video_id=video_id)])
            for position in range(1, 11):  # every thread replays the same feed
                if store.apply_changes(position, {contents[0]: [seen(BOB, 0.5, b"", f"p{position}")]}, {}):
                    applied.append(position)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        store = replicas[0]
        rows = store.list_videos()
        assert len(rows) == 8 * 8 and len({r.location for r in rows}) == 64
        for video_id in contents:
            statuses = sorted(r.status for r in rows if r.video_id == video_id)
            assert statuses == [DONE] + [DUPLICATE] * 7, video_id
        assert sorted(store.video_frame()["video_id"]) == contents
        assert len(applied) == len(set(applied)) and store.feed_position() == 10
        assert store.appearances_in(contents[0])[0].face_ref == "p10"
        assert len(store.appearance_frame()) == 8
    finally:
        for r in replicas:
            r.close()


def audit_scenario(store: AnalyticsStore) -> list[tuple[str, object]]:
    """The audit trail's operations: rows appended with feed changes, a replay, an erasure that takes the id
    out of earlier rows, and every read (paged, whole, one row, undone)."""
    from services.analytics.audit import AuditRow

    merge = AuditRow("a" * 32, "merge", "page:signed-in:0123abcd", 1_700_000_000.5, (DAN,), (CAT,),
                     {DAN: "Dan", CAT: "Cat"}, videos=2, faces=6, undoable=True)
    rename = AuditRow("b" * 32, "rename", "cli:ann", 1_700_000_100.0, (DAN,), (DAN,), {DAN: "Daniel"}, "Dan",
                      "Daniel", undoable=True)
    undo = AuditRow("c" * 32, "undo", "token", 1_700_000_200.0, (CAT,), (DAN, CAT), videos=2, faces=6,
                    undoes="a" * 32)
    erasure = AuditRow("d" * 32, "delete", "cli:ann", 1_700_000_300.0, videos=1, subject_hmac="f" * 64)
    answers: list[tuple[str, object]] = []
    answers.append(("merge", store.apply_changes(1, {}, {}, audit=merge)))
    answers.append(("leaving after the merge", [store.audit_leaving(i) for i in (DAN, CAT, ANN)]))
    answers.append(("replay", store.apply_changes(1, {}, {}, audit=replace(rename, audit_id="e" * 32))))
    answers.append(("rename", store.apply_changes(2, {}, {}, [Label(DAN, "Daniel")], audit=rename)))
    answers.append(("undo", store.apply_changes(3, {}, {}, audit=undo)))
    answers.append(("leaving after the undo", [store.audit_leaving(i) for i in (DAN, CAT)]))
    answers.append(("no audit", store.apply_changes(4, {}, {CAT: "Cat"})))
    answers.append(("before erasure", store.audit_rows()))
    answers.append(("erasure", store.apply_changes(5, {}, {}, [Label(DAN, deleted=True)], audit=erasure)))
    first, after = store.audit_page(0, 2)
    answers.append(("page 1", (first, after)))
    answers.append(("page 2", store.audit_page(after, 2)))
    answers.append(("all", store.audit_rows()))
    answers.append(("one", store.audit_row("a" * 32)))
    answers.append(("missing", store.audit_row("9" * 32)))
    answers.append(("undone", sorted(store.audit_undone(["a" * 32, "b" * 32]))))
    answers.append(("leaving after the erasure", [store.audit_leaving(i) for i in (DAN, CAT)]))
    again = AuditRow("f" * 32, "merge", "cli:ann", 1_700_000_400.0, (CAT, ANN), (ANN,), videos=1, faces=2)
    answers.append(("merged again", store.apply_changes(6, {}, {}, audit=again)))
    answers.append(("leaving at the end", [store.audit_leaving(i) for i in (CAT, ANN)]))
    return answers


def test_sqlite_and_postgresql_keep_the_same_audit_trail(sqlite_store, postgres_store) -> None:
    on_sqlite, on_postgres = audit_scenario(sqlite_store), audit_scenario(postgres_store)
    for (what, a), (_, b) in zip(on_sqlite, on_postgres, strict=True):
        assert a == b, what
    answers = dict(on_sqlite)
    assert [r.audit_id[0] for r in answers["before erasure"]] == ["c", "b", "a"], "newest first, no replayed row"
    final = answers["all"]
    assert [r.position for r in final] == [5, 3, 2, 1]
    assert DAN not in str(final) and "Dan" not in str(final), "the erased id and names are out of every row"
    assert final[3].before_ids == ("(erased)",) and final[3].names == {CAT: "Cat"}
    assert [r.position for r in answers["page 1"][0]] == [5, 3] and answers["page 2"] == (final[2:], 0)
    assert answers["one"] == (final[3], True) and answers["missing"] == (None, False)
    assert answers["undone"] == ["a" * 32]
    merged = answers["leaving after the merge"]
    assert merged[0] is not None and merged[0].audit_id == "a" * 32 and merged[1:] == [None, None], \
        "the id merged away is found by the correction that took it, the survivor and a stranger by none"
    assert answers["leaving after the undo"] == [None, None], "an undone merge took nobody away"
    assert answers["leaving after the erasure"] == [None, None]
    last = answers["leaving at the end"]
    assert last[0] is not None and last[0].audit_id == "f" * 32 and last[1] is None


def test_which_ids_earlier_corrections_in_force_name_is_the_same_on_sqlite_and_postgresql(
        sqlite_store, postgres_store) -> None:
    """audit_named_before (a move's "to a new influencer", audit.founded_by): an undo, and a row undone before the
    position asked, do not count; a row undone only later does."""
    from services.analytics.audit import AuditRow

    new = "inf_aaaa000001s"
    rows = [AuditRow("1" * 32, "move", "cli:ann", 1.0, ("inf_bbbb000002",), (new,), videos=1),
            AuditRow("2" * 32, "undo", "cli:ann", 2.0, (new,), ("inf_bbbb000002",), undoes="1" * 32),
            AuditRow("3" * 32, "move", "cli:ann", 3.0, ("inf_bbbb000002",), (new,), videos=1),
            AuditRow("4" * 32, "move", "cli:ann", 4.0, ("inf_cccc000003",), (new,), videos=1)]
    answers = []
    for store in (sqlite_store, postgres_store):
        for position, row in enumerate(rows, start=1):
            store.apply_changes(position, {}, {}, audit=row)
        answers.append([store.audit_named_before([new, "inf_dddd000004"], p) for p in (1, 2, 3, 4, 5)])
    assert answers[0] == answers[1]
    assert answers[0] == [set(), {new}, set(), {new}, {new}], "the move undone at 2 names nobody from 3 on"
