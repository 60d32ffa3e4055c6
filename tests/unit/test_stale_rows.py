"""Which rows of a manifest's job ingest tells analytics it records under their manifest rows (stale_rows.py)."""

from __future__ import annotations

import grpc

from influencers.v1 import analytics_pb2, ingest_pb2
from services.common.row_keys import manifest_row_key
from services.ingest.jobs import prepared
from services.ingest.stale_rows import forget_stale_rows, rows_under_manifest_keys
from tests.support.rpc_errors import FakeRpcError


def submission(url: str, line: int, manifest: str = "week1.csv", error: str = "", score: float | None = 1.0
               ) -> ingest_pb2.VideoSubmission:
    sub = ingest_pb2.VideoSubmission(url=url, line=line, manifest=manifest, row_error=error)
    if score is not None:
        sub.performance = score
    return sub


def test_rows_without_a_url_and_rows_kept_apart_are_those_recorded_under_their_manifest_row() -> None:
    request = prepared(ingest_pb2.StartIngestRequest(base_dir="/m", videos=[
        submission("a.mp4", 2), submission("", 3), submission("a.mp4", 4, error="line 4: performance is missing",
                                                              score=None),
        submission("b.mp4", 5, error="line 5: performance is missing", score=None),
        submission("", 6, manifest="week2.csv"), submission("", 7, manifest="")]))
    assert rows_under_manifest_keys(request) == {
        "week1.csv": [manifest_row_key("/m", 3, 1, "week1.csv"), manifest_row_key("/m", 4, 2, "week1.csv")],
        "week2.csv": [manifest_row_key("/m", 6, 4, "week2.csv")]}


def test_a_manifest_whose_rows_all_name_their_files_is_listed_with_no_key_so_that_its_old_rows_go() -> None:
    request = prepared(ingest_pb2.StartIngestRequest(base_dir="/m", videos=[submission("a.mp4", 2)]))
    assert rows_under_manifest_keys(request) == {"week1.csv": []}


class OlderAnalytics:
    """An analytics replica of the release before ForgetManifestRows (a rolling upgrade)."""

    def __init__(self) -> None:
        self.asked: list[analytics_pb2.ForgetManifestRowsRequest] = []

    def ForgetManifestRows(self, request, timeout):  # type: ignore[no-untyped-def]  # noqa: N802
        self.asked.append(request)
        raise FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")


def test_an_analytics_that_cannot_forget_rows_is_logged_and_nothing_else_happens(caplog) -> None:
    analytics = OlderAnalytics()
    request = prepared(ingest_pb2.StartIngestRequest(base_dir="/m", videos=[submission("", 2)]))
    assert forget_stale_rows(analytics, request, 5.0) == 0  # type: ignore[arg-type]
    assert [(r.base_dir, r.manifest, list(r.kept)) for r in analytics.asked] == [
        ("/m", "week1.csv", [manifest_row_key("/m", 2, 0, "week1.csv")])]
    assert "UNIMPLEMENTED" in caplog.text
