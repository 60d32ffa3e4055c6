"""A failed row keyed by its manifest row (no URL, or kept apart) is one row under both forms of its key: the
folder and line alone (a store from before manifests were named, an ingest replica of that release) and the
folder, file name and line (services/common/row_keys.py). On a real SQLite store in tmp_path."""

from __future__ import annotations

import sqlite3

from services.analytics.records import DONE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.common.row_keys import folder_form, manifest_row_key, named_forms


def failed(key: str, performance: float | None = 1.5, url: str = "", error: str = "line 2: video URL is missing"
           ) -> VideoRow:
    return VideoRow(url=url, performance=performance, status=FAILED, error=error, location=key)


OLD = manifest_row_key("/m", 2, 0)  # as a store from before, or an ingest replica of that release, keys it
WEEK1 = manifest_row_key("/m", 2, 0, "week1.csv")
WEEK2 = manifest_row_key("/m", 2, 0, "week2.csv")


def listed(store: AnalyticsStore) -> list[tuple[str, float | None, str]]:
    return [(r.location, r.performance, r.url) for r in store.list_videos()]


def test_the_folder_form_of_a_named_key_is_its_folder_and_line_and_names_nothing_else() -> None:
    assert folder_form(WEEK1) == OLD == "manifest-row:/m:line 2"
    assert folder_form(manifest_row_key("/", 3, 0, "a.csv")) == manifest_row_key("/", 3, 0)
    assert folder_form("/m/a.mp4") == "" and folder_form("manifest-row:m:line 2") == ""
    head, tail = named_forms(OLD)
    assert head + "week1.csv" + tail == WEEK1


def test_a_row_of_a_store_from_before_is_listed_once_and_in_its_place_when_its_manifest_runs_again(store) -> None:
    # Before: the rerun listed the row again under the named key, beside the folder and line's (2 rows for 1).
    store.record_video(failed(OLD))
    store.record_video(VideoRow(url="/m/a.mp4", video_id="00000000000000aa", performance=3.0, status=DONE,
                                location="/m/a.mp4"))
    assert store.record_video(failed(WEEK1))
    assert listed(store) == [(WEEK1, 1.5, ""), ("/m/a.mp4", 3.0, "/m/a.mp4")]
    assert not store.record_video(failed(WEEK1))  # once more: nothing changes


def test_an_old_replica_recording_a_kept_apart_row_by_its_folder_writes_onto_its_named_row(store) -> None:
    # A rolling upgrade: a new replica recorded week1's kept-apart row, an old one (no VideoSubmission.manifest)
    # runs it again under the folder and line. Before: listed twice.
    row = failed(WEEK1, 2.0, "a.mp4", "line 2: a.mp4: score 'x' is not a number")
    store.record_video(row)
    store.record_video(failed(OLD, 2.0, "a.mp4", "line 2: a.mp4: score 'x' is not a number (again)"))
    assert listed(store) == [(WEEK1, 2.0, "a.mp4")]
    assert store.get_video(location=WEEK1).error.endswith("(again)")


def test_a_store_listing_both_forms_of_one_row_lists_it_once_after_either_is_recorded_again(tmp_path) -> None:
    for again in (WEEK1, OLD):
        path = tmp_path / f"{len(again)}.sqlite"
        AnalyticsStore(path).close()
        with sqlite3.connect(path) as db:  # both rows, as a rerun before this rule left them
            db.executemany("INSERT INTO urls (location, url, performance, status, error, updated_at, seq) "
                           "VALUES (?, '', 1.5, ?, 'e', 0, ?)", [(OLD, FAILED, 1), (WEEK1, FAILED, 2)])
        store = AnalyticsStore(path)
        try:
            assert store.record_video(failed(again))
            assert listed(store) == [(WEEK1, 1.5, "")], again
        finally:
            store.close()


def test_another_manifests_row_at_that_line_and_another_folders_are_never_taken(store) -> None:
    store.record_video(failed(OLD, 2.5))  # week2's line 2, with its own score, from before
    store.record_video(failed(WEEK1, 1.5))
    store.record_video(failed(manifest_row_key("/n", 2, 0), 1.5))  # another folder's
    assert [r[0] for r in listed(store)] == [OLD, WEEK1, manifest_row_key("/n", 2, 0)]
    store.record_video(failed(WEEK2, 2.5))  # week2's own rerun takes it, in its place
    assert listed(store) == [(WEEK2, 2.5, ""), (WEEK1, 1.5, ""), (manifest_row_key("/n", 2, 0), 1.5, "")]


def test_a_manifest_run_again_forgets_its_own_rows_of_lines_since_fixed_moved_or_gone_and_no_other(store) -> None:
    # Before: such rows stayed in videos.csv for good beside the manifest's rows of today.
    line = {n: manifest_row_key("/m", n, 0, "week1.csv") for n in (2, 3, 4)}
    for n, key in line.items():
        store.record_video(failed(key, float(n), error=f"line {n}: video URL is missing"))
    others = [WEEK2, OLD, manifest_row_key("/m/sub", 2, 0, "week1.csv"), manifest_row_key("/n", 3, 0, "week1.csv")]
    for k, key in enumerate(others):
        store.record_video(failed(key, 10.0 + k))
    store.record_video(VideoRow(url="a.mp4", video_id="00000000000000aa", performance=2.0, status=DONE,
                                location="/m/a.mp4"))
    # Today line 2 gives a.mp4 (fixed), line 3's row moved to line 4, and line 4's is gone.
    assert store.forget_manifest_rows("/m", "week1.csv", [line[4]]) == 2
    assert [r.location for r in store.list_videos()] == [line[4], *others, "/m/a.mp4"]
    assert store.forget_manifest_rows("/m", "week1.csv", [line[4]]) == 0
    assert store.forget_manifest_rows("/m", "", []) == 0  # a caller naming no manifest: nothing is its own


def test_a_bulk_record_takes_both_key_forms_as_one_row_and_counts_it_once(store) -> None:
    store.record_video(failed(OLD))
    assert store.record_many([(failed(WEEK1), None), (failed(WEEK2, 2.5), None)]) == 2
    assert listed(store) == [(WEEK1, 1.5, ""), (WEEK2, 2.5, "")]


def test_a_row_from_before_whose_line_changed_before_the_rerun_stays_since_another_manifests_looks_the_same(
        store) -> None:
    # The folder and line alone name no manifest: week1's line 2 as it was, or week2's line 2 (both copied from
    # one template: no URL, no score), are the same stored row. week1 run again with line 2 fixed cannot tell;
    # forgetting it would drop week2's row from videos.csv for as long as week2 is not run again.
    store.record_video(failed(OLD, None))
    store.record_video(VideoRow(url="a.mp4", video_id="00000000000000aa", performance=2.0, status=DONE,
                                location="/m/a.mp4"))  # week1's line 2 today
    assert store.forget_manifest_rows("/m", "week1.csv", []) == 0
    store.record_video(failed(WEEK2, None))  # week2 run again, its line as it was: the row moves, listed once
    assert [r.location for r in store.list_videos()] == [WEEK2, "/m/a.mp4"]
