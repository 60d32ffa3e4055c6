"""The benchmark's printed table: our pipeline, its stages, the yardsticks, the targets and the
incremental check."""

from __future__ import annotations

from throughput_memory import GIB
from throughput_ours import STAGES, PipelineFigures
from throughput_store import Incremental
from throughput_user import UserRun
from throughput_yardsticks import FloorFigures, NaiveFigures

from services.common.stage_clock import split_cpu

TARGET_OURS_OVER_FLOOR = 2.5
TARGET_NAIVE_OVER_OURS = 12.0
TARGET_PEAK_BYTES = 2 * GIB
TARGET_INCREMENTAL_RATIO = 1.2


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<34}{value:>18}   {note}".rstrip()


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def pipeline_lines(f: PipelineFigures) -> list[str]:
    lines = [
        row("videos done / failed / duplicate", f"{f.videos_done} / {f.videos_failed} / {f.videos_duplicate}",
            f"{f.rows} rows, {f.workers} identity workers"),
        row("stack start", f"{f.startup_s:.1f} s"),
        row("wall time (submit to end)", f"{f.wall_s:.1f} s",
            f"videos {f.ingest_s:.1f} s + batch re-clustering {f.reconcile_s:.2f} s"),
        row("per video (to last progress)", f"{f.ingest_s_per_video:.2f} s"),
        row("video seconds processed", f"{f.video_seconds:.1f} s"),
        row("throughput", f"{f.video_seconds_per_s:.2f}", "video-seconds per wall-second"),
        row("faces detected / encoded (stored)", f"{f.faces_detected} / {f.faces_stored}"),
        row("peak memory (RSS, process tree)", f"{f.peak_rss_bytes / GIB:.2f} GiB",
            f"this process alone {f.peak_rss_main_bytes / GIB:.2f}, workers together "
            f"{f.peak_rss_children_bytes / GIB:.2f} (separate peaks)"),
    ]
    if f.quality is not None:
        q = f.quality
        lines += [row("people predicted / true", f"{q['predicted_people']} / {q['true_people']}"),
                  row("B-cubed F1", f"{q['bcubed_f1']:.3f}", f"P {q['bcubed_precision']:.3f}, "
                      f"R {q['bcubed_recall']:.3f}; incidence F1 {q['incidence_f1']:.3f}")]
    lines += [f"  ! failed: {m}" for m in f.failures[:5]] + [f"  ! service error: {m}" for m in f.service_errors]
    return lines


def stage_lines(f: PipelineFigures) -> list[str]:
    """Stages summed over videos, wall and CPU; share of the four top-level stages (videos overlap in time,
    so the sum is more than the wall time). CPU is the stage's own thread's (the identity worker's for
    identity.*); the decode stage's CPU is not split out because FFmpeg decodes on threads of its own (the
    run's process CPU below holds it)."""
    wall, cpu = split_cpu(f.stage_seconds)
    total = sum(wall.get(s, 0.0) for s in STAGES) or 1.0
    lines = [f"  {'stage (summed over videos)':<34}{'wall s':>9}{'share':>8}{'CPU s':>9}{'s per video-s':>15}"]
    for stage in sorted(wall, key=_stage_order):
        secs = wall[stage]
        depth = stage.count(".") if stage.split(".")[0] in STAGES else 1
        name = "  " * depth + stage
        per = secs / f.video_seconds if f.video_seconds else 0.0
        spent = f"{cpu[stage]:>9.1f}" if stage in cpu else f"{'':>9}"
        lines.append(f"  {name:<34}{secs:>9.1f}{secs / total:>8.1%}{spent}{per:>15.3f}")
    return [*lines, "  (identity.other: the AnalyzeVideo call minus the worker's stages = waiting for a free worker,",
            "   shipping frames, matching against and writing the face store; identity.detect.* are parts of",
            "   identity.detect: BlazeFace (locate) and HOG around what it saw (around), HOG at the coarse/fine/",
            "   finest sizes, the CNN fallback, the searches around a tracked face, and the landmarks and quality",
            "   of every box)"]


def user_lines(u: UserRun, floor: FloorFigures) -> list[str]:
    cores = ", ".join(f"{p:.0f}%" for p in u.core_mean_pct)
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in u.idle_core_s_by_phase.items())
    ratio = u.wall_s / floor.wall_s if floor.wall_s else float("inf")
    return [
        row("wall time, start-up to report", f"{u.wall_s:.1f} s",
            f"{ratio:.2f}x the decode floor; exit code {u.exit_code}"),
        row("CPU of the process tree", f"{u.cpu_user_s + u.cpu_system_s:.1f} s",
            f"user {u.cpu_user_s:.1f}, system {u.cpu_system_s:.1f}; decoders {u.decoders_cpu_s:.1f} (decoding, "
            f"sampling, JPEG), identity workers {u.workers_cpu_s:.1f} (detection, encoding), run's process "
            f"{u.main_cpu_s:.1f} (services, store)"),
        row("cores busy (mean per core)", cores),
        row("samples with a core under 50%", f"{u.idle_core_share:.0%}", phases),
        row("peak memory (RSS, process tree)", f"{u.peak_rss_bytes / GIB:.2f} GiB",
            f"the run's own process {u.peak_rss_main_bytes / GIB:.2f} GiB; target <= 1.5 GiB   "
            f"{verdict(u.peak_rss_bytes <= 1.5 * GIB)}"),
        row("target: run / floor", f"{ratio:.2f}x", f"target <= 1.3x   {verdict(ratio <= 1.3)}"),
    ]


def _stage_order(stage: str) -> tuple[int, str]:
    top = stage.split(".")[0]
    return (STAGES.index(top) if top in STAGES else len(STAGES), stage)


def yardstick_lines(floor: FloorFigures, naive: NaiveFigures) -> list[str]:
    return [
        row("decode floor (OpenCV)", f"{floor.wall_s:.1f} s",
            f"{floor.videos} videos, {floor.frames} frames, {floor.processes} processes, "
            f"{floor.video_seconds / floor.wall_s:.1f} video-s/s"),
        row("naive, on the sample", f"{naive.wall_s:.1f} s",
            f"{len(naive.videos)} videos, {naive.video_seconds:.1f} video-s, {naive.frames_analysed} frames, "
            f"{naive.faces} faces, {naive.people} people"),
        row("naive, scaled to the corpus", f"{naive.estimated_corpus_wall_s:.1f} s", "by seconds of video"),
    ]


def targets(ours: PipelineFigures, floor: FloorFigures, naive: NaiveFigures) -> dict[str, dict[str, float | bool]]:
    """Each target's measured value, its limit and whether it was met."""
    over_floor = ours.wall_s / floor.wall_s if floor.wall_s else float("inf")
    over_ours = naive.estimated_corpus_wall_s / ours.wall_s if ours.wall_s else 0.0
    return {
        "ours_over_floor": {"value": over_floor, "max": TARGET_OURS_OVER_FLOOR,
                            "met": over_floor <= TARGET_OURS_OVER_FLOOR},
        "naive_over_ours": {"value": over_ours, "min": TARGET_NAIVE_OVER_OURS,
                            "met": over_ours >= TARGET_NAIVE_OVER_OURS},
        "peak_memory_gib": {"value": ours.peak_rss_bytes / GIB, "max": TARGET_PEAK_BYTES / GIB,
                            "met": ours.peak_rss_bytes <= TARGET_PEAK_BYTES},
    }


def target_lines(ours: PipelineFigures, floor: FloorFigures, naive: NaiveFigures) -> list[str]:
    t = targets(ours, floor, naive)
    return [
        row("ours / floor (wall)", f"{t['ours_over_floor']['value']:.2f}x",
            f"target <= {TARGET_OURS_OVER_FLOOR}x   {verdict(bool(t['ours_over_floor']['met']))}"),
        row("naive / ours (wall)", f"{t['naive_over_ours']['value']:.2f}x",
            f"target >= {TARGET_NAIVE_OVER_OURS:.0f}x   {verdict(bool(t['naive_over_ours']['met']))}"),
        row("peak memory", f"{t['peak_memory_gib']['value']:.2f} GiB",
            f"target <= 2 GiB   {verdict(bool(t['peak_memory_gib']['met']))}"),
    ]


def incremental_lines(inc: Incremental) -> list[str]:
    lines = [f"  empty stores:\n{_indent(run_lines(inc.empty))}"]
    if inc.filled is None or inc.prefill is None:
        return lines
    p = inc.prefill
    lines += [row("prefill", f"{p.seconds:.1f} s", f"{p.faces} faces, {p.people} people, {p.videos} videos"),
              f"  stores of {inc.store_size} faces:\n{_indent(run_lines(inc.filled))}"]
    per_video = inc.ratio("ingest_s_per_video")
    met = per_video is not None and per_video <= TARGET_INCREMENTAL_RATIO
    return [*lines,
            row("per video, filled / empty", _ratio_text(per_video),
                f"target <= {TARGET_INCREMENTAL_RATIO}x   {verdict(met)}"),
            row("identity per video, filled / empty", _ratio_text(inc.ratio("identity_s_per_video"))),
            row("batch re-clustering, filled / empty", _ratio_text(inc.ratio("reconcile_s")),
                f"{inc.empty.reconcile_s:.2f} s -> {inc.filled.reconcile_s:.2f} s"),
            row("whole-store Recluster, filled / empty", _ratio_text(inc.ratio("full_recluster_s"))),
            row("stack start, filled / empty", _ratio_text(inc.ratio("startup_s")))]


def run_lines(f: PipelineFigures) -> list[str]:
    return pipeline_lines(f) + full_recluster_lines(f)


def full_recluster_lines(f: PipelineFigures) -> list[str]:
    if f.full_recluster_skipped:
        return [f"  ! whole-store Recluster not timed: {f.full_recluster_skipped}"]
    if f.full_recluster_s is None or f.full_recluster_peak_bytes is None:
        return []
    return [row("whole-store Recluster", f"{f.full_recluster_s:.2f} s",
                f"{f.faces_stored} faces, tree peak {f.full_recluster_peak_bytes / GIB:.2f} GiB (repair, `recluster`)")]


def _ratio_text(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _indent(lines: list[str]) -> str:
    return "\n".join("  " + line for line in lines)


def section(title: str, lines: list[str]) -> None:
    print(f"\n== {title} ==\n" + "\n".join(lines), flush=True)
