"""Client side of ingestion: turns a manifest into SubmitVideos calls and reports progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc

from influencers.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc
from services.ingest.manifest import ManifestRow, read_manifest


def submissions(rows: list[ManifestRow]) -> list[ingest_pb2.VideoSubmission]:
    out = []
    for row in rows:
        sub = ingest_pb2.VideoSubmission(url=row.url, external_id=row.external_id,
                                         row_error=f"line {row.line}: {row.error}" if row.error else "")
        if row.performance is not None:
            sub.performance = row.performance
        out.append(sub)
    return out


def ingest_manifest(channel: grpc.Channel, manifest: Path, timeout_s: float,
                    on_progress: Callable[[ingest_pb2.IngestProgress], None] | None = None
                    ) -> list[ingest_pb2.IngestProgress]:
    """Submits every row of `manifest` (relative URLs resolve against its folder) and returns the progress
    message of each video, in completion order."""
    rows = read_manifest(manifest)
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    request = ingest_pb2.SubmitVideosRequest(videos=submissions(rows), base_dir=str(manifest.resolve().parent))
    results = []
    stream: Iterator[ingest_pb2.IngestProgress] = stub.SubmitVideos(request, timeout=timeout_s)
    for progress in stream:
        results.append(progress)
        if on_progress is not None:
            on_progress(progress)
    return results


def failed(results: list[ingest_pb2.IngestProgress]) -> list[common_pb2.Video]:
    return [r.video for r in results if r.video.status == common_pb2.VIDEO_STATUS_FAILED]
