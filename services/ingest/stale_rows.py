"""A manifest run again drops the rows its earlier runs left under its own manifest rows and no longer has: a row
with no URL, or kept apart, is recorded under its manifest's folder, file name and line
(services/common/row_keys.py), and once that line is fixed (its row recorded at its file), moved or gone, the
old row would stay in videos.csv beside the manifest's rows of today. When ingest queues a manifest's job it
tells analytics which of the manifest's rows this run records so (ForgetManifestRows); analytics removes the
others of that manifest, never another manifest's, nor a row with content."""

from __future__ import annotations

import logging

import grpc

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, ingest_pb2
from services.common.row_keys import manifest_row_key

log = logging.getLogger(__name__)


def rows_under_manifest_keys(request: ingest_pb2.StartIngestRequest) -> dict[str, list[str]]:
    """The keys of the rows of a prepared request (jobs.prepared) recorded under their manifest row (no URL, or
    kept apart), by the manifest file each row names (VideoSubmission.manifest); every named manifest is listed,
    with no key when none of its rows is recorded so. Rows naming no manifest are left out (their keys are the
    folder's alone, shared by every manifest of the folder)."""
    out: dict[str, list[str]] = {}
    for k, sub in enumerate(request.videos):
        if sub.manifest:
            keys = out.setdefault(sub.manifest, [])
            if not sub.url or sub.kept_apart:
                keys.append(manifest_row_key(request.base_dir, sub.line, k, sub.manifest))
    return out


def forget_stale_rows(analytics: analytics_pb2_grpc.AnalyticsServiceStub, request: ingest_pb2.StartIngestRequest,
                      timeout_s: float) -> int:
    """Asks analytics to drop the rows earlier runs of the request's manifests left under manifest rows this run
    does not record; returns how many went. A refusal or an unreachable analytics is logged, never the job's
    failure: those rows stay until the manifest runs again."""
    forgotten = 0
    for manifest, kept in rows_under_manifest_keys(request).items():
        try:
            forgotten += analytics.ForgetManifestRows(analytics_pb2.ForgetManifestRowsRequest(
                base_dir=request.base_dir, manifest=manifest, kept=kept), timeout=timeout_s).forgotten
        except grpc.RpcError as exc:
            log.warning("the rows earlier runs of %s left under lines it no longer has were kept: analytics "
                        "answered %s", manifest[:200], exc.code().name)
    if forgotten:
        log.info("%d row%s of earlier runs of the manifest no longer in it removed", forgotten,
                 "" if forgotten == 1 else "s")
    return forgotten
