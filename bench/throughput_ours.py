"""Our pipeline through the real services: a fresh stack (ports 0, stores in a temp dir) ingests one
manifest; the figures come from the progress stream, the identity service and the exported report."""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from throughput_memory import GIB, PeakMemory

from influencers.client import ingest_manifest
from influencers.evaluate import score_dirs
from influencers.stack import Stack, start_stack
from influencers.v1 import common_pb2, identity_pb2, identity_pb2_grpc, ingest_pb2
from services.analytics.export import export_report
from services.common.protoconv import seconds, seconds_by_key
from services.common.rpc import open_channel
from services.common.settings import Settings
from services.common.stage_clock import CPU_SUFFIX
from services.ingest.manifest import read_manifest

INGEST_TIMEOUT_S = 24 * 3600.0
PROGRESS_EVERY = 25
MEMORY_SHARE = 0.5  # of the available memory a timed whole-store Recluster may be expected to take
STAGES = ("fetch", "decode", "identity", "record")  # the top-level stages, one after the other per video


@dataclass
class IngestRun:
    results: list[ingest_pb2.WatchJobResponse]
    wall_s: float  # submit to end of stream
    last_progress_s: float  # submit to the last progress message; the rest is the batch's re-clustering
    errors: list[str]  # ERROR log records of the services during the run (e.g. a failed re-clustering)


@dataclass
class PipelineFigures:
    rows: int
    videos_done: int
    videos_failed: int
    videos_duplicate: int
    video_seconds: float  # summed duration of the videos processed (status done)
    startup_s: float  # start_stack (with a prefilled store: opening it)
    wall_s: float  # submit to end of stream, re-clustering included
    ingest_s: float  # submit to the last progress message
    reconcile_s: float  # last progress message to end of stream: the batch's Recluster, ReplaceAppearances
    stage_seconds: dict[str, float]  # summed over videos; videos overlap, so the sum exceeds the wall time
    faces_detected: int
    faces_stored: int  # encodings kept in the face store (identity), synthetic ones included
    influencers: int
    peak_rss_bytes: int  # this process and its children (the identity workers) at once
    peak_rss_main_bytes: int
    peak_rss_children_bytes: int
    workers: int
    quality: dict[str, float] | None
    failures: list[str] = field(default_factory=list)
    service_errors: list[str] = field(default_factory=list)
    mean_encoding: list[float] = field(default_factory=list)  # of the stored faces; seeds synthetic faces
    # A whole-store Recluster after the run (what a repair after an interrupted batch, or `influencers
    # recluster`, costs); None when not asked for, or skipped because its memory would not fit.
    full_recluster_s: float | None = None
    full_recluster_peak_bytes: int | None = None
    full_recluster_skipped: str = ""

    @property
    def video_seconds_per_s(self) -> float:
        return self.video_seconds / self.wall_s if self.wall_s else 0.0

    @property
    def ingest_s_per_video(self) -> float:
        return self.ingest_s / self.videos_done if self.videos_done else 0.0

    @property
    def identity_s_per_video(self) -> float:
        """Mean AnalyzeVideo call: the worker's analysis plus matching against, and writing to, the store."""
        return self.stage_seconds.get("identity", 0.0) / self.videos_done if self.videos_done else 0.0

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out.pop("mean_encoding")
        out.update(video_seconds_per_s=self.video_seconds_per_s, ingest_s_per_video=self.ingest_s_per_video,
                   identity_s_per_video=self.identity_s_per_video)
        return out


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def bench_settings(data_dir: Path) -> Settings:
    """Settings from the environment (workers, thresholds), but every port free, the stores under
    `data_dir` and the face store embedded (Qdrant Edge in data_dir/qdrant/edge): a benchmark never writes into
    a configured Qdrant server."""
    return Settings.from_env(data_dir=data_dir, ingest_port=0, identity_port=0, analytics_port=0, web_port=0,
                             qdrant_url="", token="")


def _progress_printer(label: str) -> Callable[[ingest_pb2.WatchJobResponse], None]:
    """One updating line on a terminal; a line every PROGRESS_EVERY videos into a file."""
    tty = sys.stderr.isatty()

    def show(p: ingest_pb2.WatchJobResponse) -> None:
        last = p.done == p.total
        if tty:
            print(f"\r  {label}: {p.done}/{p.total} videos", end="\n" if last else "", file=sys.stderr, flush=True)
        elif last or p.done % PROGRESS_EVERY == 0:
            print(f"  {label}: {p.done}/{p.total} videos", file=sys.stderr, flush=True)

    return show


def timed_ingest(stack: Stack, manifest: Path, label: str) -> IngestRun:
    channel = open_channel(stack.settings.ingest_target)
    show = _progress_printer(label)
    stamps: list[float] = []

    def on_progress(p: ingest_pb2.WatchJobResponse) -> None:
        stamps.append(time.perf_counter())
        show(p)

    errors = _ErrorLog()
    logging.getLogger().addHandler(errors)
    t0 = time.perf_counter()
    try:
        results = ingest_manifest(channel, manifest, INGEST_TIMEOUT_S, on_progress)
    finally:
        end = time.perf_counter()
        logging.getLogger().removeHandler(errors)
        channel.close()
    return IngestRun(results, end - t0, (stamps[-1] if stamps else end) - t0, errors.messages)


def stage_sums(results: list[ingest_pb2.WatchJobResponse]) -> dict[str, float]:
    """Seconds by stage summed over videos (wall; CPU under "<stage>.cpu"), plus "identity.other": the
    AnalyzeVideo call minus the worker's own stages (waiting for a free worker, shipping frames, matching and
    writing the store). Sub-stages ("identity.detect.coarse") are parts of their stage, not added to it."""
    sums: dict[str, float] = defaultdict(float)
    for p in results:
        for stage, secs in seconds_by_key(p.stage_durations).items():
            sums[stage] += secs
    inner = sum(v for k, v in sums.items()
                if k.startswith("identity.") and k.count(".") == 1 and not k.endswith(CPU_SUFFIX))
    if "identity" in sums:
        sums["identity.other"] = sums["identity"] - inner
    return dict(sums)


def _count(results: list[ingest_pb2.WatchJobResponse], status: int) -> int:
    return sum(r.video.status == status for r in results)


def _identity_stats(stack: Stack) -> tuple[int, int]:
    """(influencers, faces stored) as the identity service reports them, every page of ListInfluencers."""
    channel = open_channel(stack.settings.identity_target)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    influencers = faces = 0
    token = ""
    try:
        while True:
            reply = stub.ListInfluencers(identity_pb2.ListInfluencersRequest(page_token=token), timeout=600)
            influencers += len(reply.influencers)
            faces += sum(i.faces for i in reply.influencers)
            token = reply.next_page_token
            if not token:
                return influencers, faces
    finally:
        channel.close()


def _mean_encoding(stack: Stack) -> list[float]:
    """Mean of the stored encodings, summed a face at a time (the store may hold a million)."""
    total, n = np.zeros(128), 0
    for f in stack.identity.store.scroll(with_vectors=True):
        total += f.vector
        n += 1
    return (total / n).tolist() if n else []


def _quality(stack: Stack, out_dir: Path, manifest: Path) -> dict[str, float] | None:
    """Scores of the export against the corpus's truth, over the manifest's videos only (a prefilled
    store's synthetic videos are in the export too)."""
    if not (manifest.parent / "truth.csv").is_file():
        return None
    export_report(stack.store, out_dir)
    urls = {row.url for row in read_manifest(manifest)}
    appearances = pd.read_csv(out_dir / "appearances.csv")
    appearances[appearances["video_url"].isin(urls)].to_csv(out_dir / "appearances.csv", index=False)
    scores = asdict(score_dirs(out_dir, manifest.parent))
    scores.pop("mapping")
    return scores


def full_recluster_bytes(faces: int) -> int:
    """Memory a whole-store Recluster needs at `faces` stored faces: it grows with the faces (the scrolled
    faces and the sparse graph), not their square; bench/scale.py measured a peak RSS of 4.0 GiB at 1M faces
    (1.9 GiB heap, the rest mapped store files), so 5 KiB a face leaves a margin."""
    return 5 * 1024 * faces


def time_full_recluster(stack: Stack, figures: PipelineFigures) -> None:
    """Times a Recluster of the whole store into `figures`, unless its estimated memory exceeds half of
    what the machine has available (the benchmark must not push a shared machine into the OOM killer)."""
    need, available = full_recluster_bytes(figures.faces_stored), psutil.virtual_memory().available
    if need > MEMORY_SHARE * available:
        figures.full_recluster_skipped = (f"needs ~{need / GIB:.1f} GiB ({figures.faces_stored} faces), "
                                          f"{available / GIB:.1f} GiB available")
        return
    channel = open_channel(stack.settings.identity_target)
    try:
        with PeakMemory() as peak:
            t0 = time.perf_counter()
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            for _page in (page.changes for page in stub.Recluster(identity_pb2.ReclusterRequest(),
                                                                  timeout=INGEST_TIMEOUT_S)):
                pass  # a stream of pages of changed videos; the time is until its end
            figures.full_recluster_s = time.perf_counter() - t0
        figures.full_recluster_peak_bytes = peak.peak_bytes
    finally:
        channel.close()


def _figures(stack: Stack, run: IngestRun, startup_s: float, manifest: Path, report_dir: Path,
             peak: PeakMemory) -> PipelineFigures:
    done = [r for r in run.results if r.video.status == common_pb2.VIDEO_STATUS_DONE]
    failed = [r for r in run.results if r.video.status == common_pb2.VIDEO_STATUS_FAILED]
    influencers, stored = _identity_stats(stack)
    return PipelineFigures(
        rows=len(run.results), videos_done=len(done), videos_failed=len(failed),
        videos_duplicate=_count(run.results, common_pb2.VIDEO_STATUS_DUPLICATE),
        video_seconds=sum(seconds(r.video.duration) for r in done), startup_s=startup_s, wall_s=run.wall_s,
        ingest_s=run.last_progress_s, reconcile_s=run.wall_s - run.last_progress_s,
        stage_seconds=stage_sums(run.results), faces_detected=sum(r.video.faces for r in done),
        faces_stored=stored, influencers=influencers, peak_rss_bytes=peak.peak_bytes,
        peak_rss_main_bytes=peak.peak_own_bytes, peak_rss_children_bytes=peak.peak_children_bytes,
        workers=stack.settings.worker_count, quality=_quality(stack, report_dir, manifest),
        failures=[f"{r.video.url}: {r.video.error}" for r in failed], service_errors=run.errors,
        mean_encoding=_mean_encoding(stack))


def run_pipeline(manifest: Path, label: str, prefill: Callable[[Settings], None] | None = None,
                 full_recluster: bool = False) -> PipelineFigures:
    """Ingests `manifest` through a fresh stack; `prefill(settings)` may fill its stores before it starts.
    Peak memory covers the stack's start, the ingest and the scoring; with `full_recluster`, a
    whole-store Recluster is timed afterwards, apart."""
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        settings = bench_settings(Path(tmp) / "data")
        if prefill is not None:
            prefill(settings)
        with PeakMemory() as peak:
            t0 = time.perf_counter()
            stack = start_stack(settings, web=False)
            startup_s = time.perf_counter() - t0
            try:
                run = timed_ingest(stack, manifest, label)
                figures = _figures(stack, run, startup_s, manifest, Path(tmp) / "report", peak)
                if full_recluster:
                    time_full_recluster(stack, figures)
                return figures
            finally:
                stack.stop()
