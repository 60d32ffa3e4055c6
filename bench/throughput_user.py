"""`influencers run` as a user runs it, timed from the outside: a subprocess from start-up to the report,
sampled every SAMPLE_S seconds for the CPU of every core, the CPU time and resident memory of the process
tree (the run, its identity workers and its decoders), so that idle cores and memory peaks show with their moments."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

SAMPLE_S = 0.5
BUSY = 50.0  # % : a core under this is counted idle in that sample


@dataclass
class UserRun:
    wall_s: float
    exit_code: int
    cpu_user_s: float  # the process tree's, summed over every process that ran
    cpu_system_s: float
    main_cpu_s: float  # the run's own process: ingest's row threads, identity's matching, analytics, the store
    workers_cpu_s: float  # identity's worker processes: face detection and encoding
    decoders_cpu_s: float  # ingest's decoder processes and their fork server: decoding (FFmpeg), sampling, JPEG
    peak_rss_bytes: int  # the tree at once
    peak_rss_main_bytes: int
    core_mean_pct: list[float]  # per core, over the run
    idle_core_share: float  # of samples with at least one core under BUSY %
    idle_core_s_by_phase: dict[str, float] = field(default_factory=dict)  # seconds with a core idle, by phase
    timeline: list[tuple[float, float, int]] = field(default_factory=list)  # (t, busy cores, tree RSS bytes)

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["timeline"] = self.timeline[:: max(1, len(self.timeline) // 200)]
        return out


def run_as_user(manifest: Path, extra_env: dict[str, str] | None = None,
                extra_args: list[str] | None = None) -> UserRun:
    """Runs `python -m influencers run MANIFEST --no-serve` (and `extra_args`) on a fresh data dir and samples it."""
    with tempfile.TemporaryDirectory(prefix="bench-user-") as tmp:
        env = {**os.environ, **(extra_env or {})}
        cmd = [sys.executable, "-m", "influencers", "run", str(manifest), "--no-serve", "--data-dir",
               str(Path(tmp) / "data"), "--metrics-port", "0", *(extra_args or [])]
        psutil.cpu_percent(percpu=True)  # primes the per-core counters
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        root = psutil.Process(proc.pid)
        cpu_by_pid: dict[int, tuple[float, float]] = {}
        decoders: set[int] = set()  # the fork server and the decoders forked from it
        samples: list[tuple[float, list[float], int, int]] = []
        while proc.poll() is None:
            time.sleep(SAMPLE_S)
            t = time.perf_counter() - t0
            cores = psutil.cpu_percent(percpu=True)
            rss = own = 0
            for p in [root, *_children(root)]:
                try:
                    with p.oneshot():
                        times = p.cpu_times()
                        if p.pid not in cpu_by_pid and "forkserver" in " ".join(p.cmdline()):
                            decoders.add(p.pid)  # forked decoders keep the fork server's command line
                        cpu_by_pid[p.pid] = (times.user, times.system)
                        r = p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss += r
                own = r if p.pid == root.pid else own
            samples.append((t, cores, rss, own))
        wall = time.perf_counter() - t0
    main = cpu_by_pid.get(proc.pid, (0.0, 0.0))
    workers = [v for pid, v in cpu_by_pid.items() if pid != proc.pid and pid not in decoders]
    decoding = [v for pid, v in cpu_by_pid.items() if pid in decoders]
    return UserRun(
        wall_s=wall, exit_code=proc.returncode,
        cpu_user_s=sum(u for u, _ in cpu_by_pid.values()), cpu_system_s=sum(s for _, s in cpu_by_pid.values()),
        main_cpu_s=sum(main), workers_cpu_s=sum(u + s for u, s in workers),
        decoders_cpu_s=sum(u + s for u, s in decoding),
        peak_rss_bytes=max((s[2] for s in samples), default=0), peak_rss_main_bytes=max((s[3] for s in samples),
                                                                                        default=0),
        core_mean_pct=_core_means(samples), idle_core_share=_idle_share(samples),
        idle_core_s_by_phase=_idle_by_phase(samples, wall),
        timeline=[(round(t, 1), round(sum(c) / 100, 2), rss) for t, c, rss, _ in samples])


def _children(root: psutil.Process) -> list[psutil.Process]:
    try:
        return root.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _core_means(samples: list[tuple[float, list[float], int, int]]) -> list[float]:
    if not samples:
        return []
    n = len(samples[0][1])
    return [sum(s[1][k] for s in samples) / len(samples) for k in range(n)]


def _idle_share(samples: list[tuple[float, list[float], int, int]]) -> float:
    return sum(min(s[1]) < BUSY for s in samples) / len(samples) if samples else 0.0


def _idle_by_phase(samples: list[tuple[float, list[float], int, int]], wall: float) -> dict[str, float]:
    """Seconds with a core idle in the first 5 s (start-up), the last 10% of the run (the batch's tail, its
    re-clustering and the report) and between."""
    out = {"start-up (first 5 s)": 0.0, "middle": 0.0, "tail (last 10%)": 0.0}
    for t, cores, _, _ in samples:
        if min(cores) >= BUSY:
            continue
        phase = "start-up (first 5 s)" if t <= 5 else "tail (last 10%)" if t >= 0.9 * wall else "middle"
        out[phase] += SAMPLE_S
    return out
