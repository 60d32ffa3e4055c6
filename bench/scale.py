"""The face store at catalogue scale: synthetic stores of 100k and 1M faces on Qdrant Edge, made from real
encodings (bench/scale_synthetic.py), and what identity costs at that size.

    .venv/bin/python bench/scale.py [--sizes 100000,1000000] [--keep DIR]

Per size it writes the store with EdgeFaceStore.upsert (one call per 500 videos), builds the index
(store.optimize()), then measures, each in a child process so that every RSS is that of a fresh process:
- at rest: RSS of a process that opened open_face_store and IdentityRegistry, as the identity service does;
- kNN: store.search of one vector, limit 32 (a face that is not a copy), and an EdgeShard query of one
  vector filtered by influencer_id, and store.faces_where("video_id", [one]) (a filtered scroll);
- identity per video: registry.assign of the people of the smoke corpus's videos, analysed once by the real
  analyser (frames sampled as ingest samples them, analyze_frames as a worker runs it; cached in
  bench/out/smoke_analyses.pkl), into the store of that size and into an empty one;
- whole-store re-cluster: registry.recluster() (time; the child's peak RSS, VmHWM, and the sampled peaks of its
  heap and of its mapped files: the engine maps the vector file twice, so VmHWM counts those pages twice);
  first of a copy of the store, in a memory cgroup of 2 GiB with the page cache dropped before (as the Qdrant
  team measure what a process needs: limit the memory, page cache included, and see that it still runs);
- at the largest size, resume after SIGKILL: a child upserting batches into a copy of the store is killed
  mid-upsert; reopening takes N s and the count is compared with the batches acknowledged before the kill.
Prints one table, also written to bench/out/scale.md (and the figures to bench/out/scale.json). The real
encodings come from ../shared/corpus/photos with face_recognition, cached in bench/out/encodings.npy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scale_synthetic import Catalogue, FaceSpace, distance_profile  # noqa: E402

OUT = ROOT / "bench" / "out"
CORPORA = ROOT.parent / "shared" / "corpus"
GIB = 1024**3
QUERIES = 500
ASSIGN_PASSES = 2
CHILD_TIMEOUT_S = 30 * 60.0
KILL_AFTER_S = 4.0
MEMORY_LIMIT = 2 * GIB
TARGETS = {"knn_p50_ms": 5.0, "assign_ratio": 1.3, "recluster_s": 600.0, "recluster_peak_gib": 2.0,
           "rest_gib": 1.5}


# ---- real inputs, computed once ------------------------------------------------------------------------
def real_encodings(photos: Path, cache: Path) -> tuple[np.ndarray, list[str]]:
    """(n, 128) encodings of the photos with exactly one face (HOG, upsample 1), and each one's person."""
    names = cache.with_name("encodings_people.txt")
    if cache.is_file() and names.is_file():
        return np.load(cache), names.read_text().split()
    import face_recognition

    vecs, labels = [], []
    for person in sorted(p for p in photos.iterdir() if p.is_dir()):
        for img in sorted(person.glob("*.jpg")):
            image = face_recognition.load_image_file(img)
            boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1)
            if len(boxes) == 1:
                vecs.append(face_recognition.face_encodings(image, boxes)[0])
                labels.append(person.name)
    np.save(cache, np.asarray(vecs, np.float32))
    names.write_text("\n".join(labels))
    return np.asarray(vecs, np.float32), labels


def smoke_analyses(manifest: Path, cache: Path) -> list[tuple[str, Any, float]]:
    """(video_id, VideoAnalysis, seconds the analysis took) per distinct video of `manifest` with a face:
    frames sampled and JPEG-encoded as ingest does, analysed as an identity worker does, in this process."""
    from services.identity.analyzer import PersonObservation

    shape = sorted(PersonObservation.__dataclass_fields__)  # a cache written by older code is made again
    if cache.is_file():
        with cache.open("rb") as fh:
            cached = pickle.load(fh)  # noqa: S301 - our own cache file
        if isinstance(cached, dict) and cached.get("shape") == shape:
            return cached["analyses"]
    import hashlib

    import cv2

    from services.common.settings import Settings
    from services.identity.analyzer import FrameIn, analyze_frames
    from services.identity.faces import FaceModel
    from services.ingest.decoding import JPEG_QUALITY
    from services.ingest.manifest import read_manifest
    from services.ingest.sampling import ShotSampler
    from services.ingest.video import sample_frames

    settings = Settings.from_env(qdrant_url="")
    model = FaceModel()
    out, seen = [], set()
    for row in read_manifest(manifest):
        path = (manifest.parent / row.url).resolve()
        if row.error or not path.is_file() or path in seen:
            continue
        seen.add(path)
        video_id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        _, sampled = sample_frames(path, ShotSampler(settings.sample_interval_s),
                                   max_seconds=settings.max_video_seconds)
        frames = [FrameIn(f.index, f.timestamp_s, f.shot, f.span_s,
                          cv2.imencode(".jpg", f.bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes())
                  for f in sampled]
        t0 = time.perf_counter()
        analysis = analyze_frames(model, frames, settings.within_video_threshold)
        seconds = time.perf_counter() - t0
        if analysis.people:
            out.append((video_id, analysis, seconds))
    with cache.open("wb") as fh:
        pickle.dump({"shape": shape, "analyses": out}, fh)
    return out


# ---- child processes -----------------------------------------------------------------------------------
def _peak_rss_bytes() -> int:
    """This process's peak RSS: VmHWM of /proc/self/status. (getrusage's ru_maxrss would not do: a spawned
    child is forked before it execs, and Linux carries the parent's high-water mark over the exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: KiB on Linux, bytes on macOS


def _rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _rss_parts() -> dict[str, int]:
    """RssAnon (the heap: what the process itself holds) and RssFile (mapped store files in the page cache,
    which the kernel may drop) from /proc/self/status, in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("RssAnon", "RssFile", "VmHWM"):
            out[key] = int(line.split()[1]) * 1024
    return out


def _open_registry(data_dir: Path) -> Any:
    from services.common.settings import Settings
    from services.identity.assignment import Thresholds
    from services.identity.crops import CropStore
    from services.identity.open_store import open_face_store
    from services.identity.registry import IdentityRegistry

    s = Settings.from_env(data_dir=data_dir, qdrant_url="")
    store = open_face_store(s)
    thresholds = Thresholds(s.match_threshold, s.match_margin, s.cluster_threshold)
    return IdentityRegistry(store, CropStore(store), thresholds)  # as IdentityProcess builds it


def _percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    return float(np.percentile(seconds, 50) * 1e3), float(np.percentile(seconds, 99) * 1e3)


def child_serve(data_dir: Path, queries: np.ndarray, influencers: list[str]) -> dict[str, Any]:
    """Opens the store as the identity service does; RSS at rest; then latencies of the three reads, and
    per query the distance to its nearest face of its own identity and of another."""
    import qdrant_edge as qe

    t0 = time.perf_counter()
    registry = _open_registry(data_dir)
    open_s = time.perf_counter() - t0
    store = registry.store
    rest, rest_parts = _rss_bytes(), _rss_parts()
    plain, filtered, scrolls, same, other = [], [], [], [], []
    videos = []
    for vec, inf in zip(queries, influencers, strict=True):
        t = time.perf_counter()
        hits = store.search(vec[None, :], 32)[0]
        plain.append(time.perf_counter() - t)
        same.extend([h.distance for h in hits if h.influencer_id == inf][:1])
        other.extend([h.distance for h in hits if h.influencer_id != inf][:1])
        videos.append(hits[0].video_id)
        flt = qe.Filter(must=[qe.FieldCondition(key="influencer_id", match=qe.MatchValue(value=inf)),
                              qe.FieldCondition(key="copy", match=qe.MatchValue(value=0))])
        request = qe.QueryRequest(limit=32, query=qe.Query.Nearest(vec.tolist()), filter=flt,
                                  with_payload=["influencer_id", "video_id"])
        t = time.perf_counter()
        store._faces.query(request)  # noqa: SLF001 - the engine's filtered kNN, which the port does not expose
        filtered.append(time.perf_counter() - t)
    for video in videos:
        t = time.perf_counter()
        store.faces_where("video_id", [video])
        scrolls.append(time.perf_counter() - t)
    count = store.count()
    after, after_parts = _rss_bytes(), _rss_parts()  # before closing the store (which unmaps its files)
    store.close()
    pct = np.percentile
    return {"open_s": open_s, "rest_bytes": rest, "rest_parts": rest_parts, "after_queries_bytes": after,
            "after_queries_parts": after_parts, "count": count,
            "knn_ms": _percentiles_ms(plain), "knn_filtered_ms": _percentiles_ms(filtered),
            "scroll_video_ms": _percentiles_ms(scrolls),
            "nearest_same": [float(pct(same, p)) for p in (5, 50, 95)] if same else [],
            "nearest_other": [float(pct(other, p)) for p in (5, 50, 95)] if other else []}


def child_assign(data_dir: Path, analyses: list[tuple[str, Any, float]]) -> dict[str, Any]:
    """Seconds of registry.assign per video, ASSIGN_PASSES passes over the videos (a later pass replaces
    the video's faces, as a re-analysis does)."""
    registry = _open_registry(data_dir)
    seconds = []
    for _ in range(ASSIGN_PASSES):
        for video_id, analysis, _analysis_s in analyses:
            t0 = time.perf_counter()
            registry.assign(video_id, analysis)
            seconds.append(time.perf_counter() - t0)
    registry.store.close()
    return {"assign_s": seconds}


class _PeakParts:
    """Samples RssAnon and RssFile every 0.2 s in a thread: the peak of each (VmHWM has only their sum)."""

    def __init__(self) -> None:
        self.anon = self.file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            parts = _rss_parts()
            self.anon, self.file = max(self.anon, parts["RssAnon"]), max(self.file, parts["RssFile"])

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return {"peak_anon_bytes": self.anon, "peak_file_bytes": self.file}


def _memory_cgroup(limit: int) -> Path:
    """A new memory cgroup limited to `limit` bytes (page cache included, as a container's limit counts it),
    beside or under this process's own: cgroup v1 (memory controller) or v2 (memory.max). OSError if neither
    can be made here."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    name = f"scale-bench-{os.getpid()}"
    v1 = [line.split(":", 2)[2] for line in lines if "memory" in line.split(":", 2)[1].split(",")]
    v2 = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
    if v1:
        group, limit_file = Path("/sys/fs/cgroup/memory") / v1[0].lstrip("/") / name, "memory.limit_in_bytes"
    elif v2:  # a sibling of this process's own group (a group with processes may not have children)
        group, limit_file = (Path("/sys/fs/cgroup") / v2[0].lstrip("/")).parent / name, "memory.max"
    else:
        raise OSError("neither a cgroup v1 memory controller nor cgroup v2")
    group.mkdir()
    (group / limit_file).write_text(str(limit))
    return group


def child_recluster(data_dir: Path, group: Path | None = None) -> dict[str, Any]:
    """registry.recluster() of the whole store: time, peak RSS (VmHWM) and the sampled peaks of its heap and
    mapped files. With `group`, inside that memory cgroup (as the Qdrant team measure what a process needs:
    limit it and see that it runs), joined before opening anything."""
    if group is not None:
        (group / "cgroup.procs").write_text(str(os.getpid()))
    sampler = _PeakParts()
    registry = _open_registry(data_dir)
    before = len(registry.store.influencer_counts())
    t0 = time.perf_counter()
    changed = registry.recluster()
    seconds = time.perf_counter() - t0
    after = len(registry.store.influencer_counts())
    registry.store.close()
    out = {"recluster_s": seconds, "peak_bytes": _peak_rss_bytes(), **sampler.stop(), "end_parts": _rss_parts(),
           "changed_videos": len(changed), "influencers_before": before, "influencers_after": after}
    if group is not None:
        usage = group / "memory.max_usage_in_bytes"  # v1 only: the group's own peak, page cache included
        out["cgroup_peak_bytes"] = int(usage.read_text()) if usage.is_file() else None
    return out


def _drop_page_cache() -> bool:
    """Writes dirty pages and drops the clean page cache (root only), so that a limited child pays for every
    page of the store it reads rather than finding them cached and charged to another process."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1")
    except OSError:
        return False
    return True


def limited_recluster(data_dir: Path, scratch: Path, limit: int) -> dict[str, Any]:
    """The whole-store re-cluster of a copy of the store (the real one is re-clustered unlimited after),
    in a memory cgroup of `limit` bytes, page cache dropped first."""
    try:
        group = _memory_cgroup(limit)
    except OSError as err:
        return {"error": f"no memory cgroup could be made here ({err})"}
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(data_dir, scratch)
    try:
        dropped = _drop_page_cache()
        out = in_child(child_recluster, scratch, group)  # a child killed at the limit answers {"error": ...}
        return {**out, "limit_bytes": limit, "page_cache_dropped": dropped}
    finally:
        group.rmdir()  # empty once the child has exited, however it ended
        shutil.rmtree(scratch, ignore_errors=True)


def child_writer(folder: Path, space: FaceSpace, conn: Any) -> None:
    """Upserts new synthetic videos into the store in `folder`, sending the faces written so far after each
    upsert returns, until killed."""
    from services.identity.edge_store import EdgeFaceStore

    batches = list(Catalogue(space, 150_000, seed=7).chunks())
    store = EdgeFaceStore(folder)
    conn.send(("ready", store.count()))
    written = 0
    for batch in batches:
        conn.send(("writing", len(batch)))
        store.upsert(batch)
        written += len(batch)
        conn.send(("acked", written))
    conn.send(("done", written))


def _child_main(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], conn: Any) -> None:
    conn.send(fn(*args))


def in_child(fn: Callable[..., dict[str, Any]], *args: Any, timeout_s: float = CHILD_TIMEOUT_S) -> dict[str, Any]:
    """Runs fn(*args) in a fresh (spawned) process; its result, or {"error": ...} on a crash or timeout."""
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(fn, args, send))
    proc.start()
    send.close()
    try:
        if recv.poll(timeout_s):
            return recv.recv()
        return {"error": f"no answer within {timeout_s:.0f} s"}
    except EOFError:
        return {"error": f"child died (exit code {proc.exitcode})"}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()


def resume_after_kill(folder: Path, space: FaceSpace) -> dict[str, Any]:
    """SIGKILLs a writer KILL_AFTER_S seconds into its upserts; then reopens the store and counts."""
    from services.identity.edge_store import EdgeFaceStore

    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child_writer, args=(folder, space, send))
    proc.start()
    send.close()
    kind, before = recv.recv()
    assert kind == "ready"
    time.sleep(KILL_AFTER_S)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    acked, inflight, finished = 0, 0, False
    while True:
        try:
            if not recv.poll(0):
                break
            kind, value = recv.recv()
        except (EOFError, OSError):
            break
        if kind == "writing":
            inflight = value
        else:
            acked, inflight, finished = value, 0, kind == "done"
    t0 = time.perf_counter()
    store = EdgeFaceStore(folder)
    reopen_s = time.perf_counter() - t0
    count = store.count()
    store.close()
    return {"before": before, "acked": acked, "inflight": inflight, "count": count,
            "extra": count - before - acked, "reopen_s": reopen_s, "finished_before_kill": finished}


# ---- building --------------------------------------------------------------------------------------------
def build(data_dir: Path, catalogue: Catalogue, jpegs: list[bytes]) -> dict[str, Any]:
    """Writes the catalogue into an Edge store under data_dir (as open_face_store lays it out), a crop per
    person (real crops of the smoke videos, in turn) through CropStore.save as identity does, and indexes."""
    from services.identity.crops import CropStore
    from services.identity.edge_store import EdgeFaceStore

    store = EdgeFaceStore(data_dir / "qdrant" / "edge")
    crops = CropStore(store)
    upsert_s = generate_s = crops_s = 0.0
    t = time.perf_counter()
    written = crops_written = 0
    for chunk in catalogue.chunks():
        t0 = time.perf_counter()
        generate_s += t0 - t
        store.upsert(chunk)
        t1 = time.perf_counter()
        upsert_s += t1 - t0
        for video_id, person in sorted({f.record.person_key for f in chunk}):
            crops.save(video_id, person, jpegs[crops_written % len(jpegs)])
            crops_written += 1
        t = time.perf_counter()
        crops_s += t - t1
        written += len(chunk)
        print(f"\r  {written:,} faces written", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    t0 = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - t0
    count = store.count()
    store.close()
    return {"faces": count, "identities": catalogue.identities, "upsert_s": upsert_s, "generate_s": generate_s,
            "upsert_rate": count / upsert_s, "crops": crops_written, "crop_rate": crops_written / crops_s,
            "optimize_s": optimize_s, "peak_bytes_builder": _peak_rss_bytes(), "disk_bytes": _disk_bytes(data_dir)}


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(size: int, root: Path, space: FaceSpace, analyses: list[tuple[str, Any, float]],
            kill: bool) -> dict[str, Any]:
    data_dir = root / str(size)
    marker = data_dir / "built.json"
    catalogue = Catalogue(space, size)
    if marker.is_file():
        figures = {**json.loads(marker.read_text()), "kept": True}
        print(f"{size:,}: reusing the store in {data_dir}", file=sys.stderr)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"{size:,}: building {data_dir}", file=sys.stderr)
        figures = build(data_dir, catalogue, [p.best_face for _, a, _ in analyses for p in a.people])
        marker.write_text(json.dumps(figures))
    rng = np.random.default_rng(size)
    who = rng.choice(catalogue.identities, size=QUERIES, p=catalogue.popularity)
    queries = catalogue.appearance_faces(who, np.ones(QUERIES, np.int64), rng)
    print(f"{size:,}: serving reads", file=sys.stderr)
    figures["serve"] = in_child(child_serve, data_dir, queries, [catalogue.ids[i] for i in who])
    print(f"{size:,}: assigning the smoke videos", file=sys.stderr)
    figures["assign"] = in_child(child_assign, data_dir, analyses)
    print(f"{size:,}: whole-store re-cluster of a copy, memory limited", file=sys.stderr)
    figures["recluster_limited"] = limited_recluster(data_dir, root / f"limited-{size}", MEMORY_LIMIT)
    print(f"{size:,}: whole-store re-cluster", file=sys.stderr)
    figures["recluster"] = in_child(child_recluster, data_dir)
    if kill:
        print(f"{size:,}: resume after SIGKILL (on a copy)", file=sys.stderr)
        scratch = root / f"kill-{size}"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(data_dir / "qdrant" / "edge", scratch)
        figures["resume"] = resume_after_kill(scratch, space)
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


# ---- the table -----------------------------------------------------------------------------------------
def _mean_ms(assign: dict[str, Any]) -> float | None:
    return statistics.mean(assign["assign_s"]) * 1e3 if "assign_s" in assign else None


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def _rss(total: int, parts: dict[str, int] | None) -> str:
    if not parts:
        return f"{total / GIB:.2f}"
    return f"{total / GIB:.2f} ({parts['RssAnon'] / GIB:.2f} + {parts['RssFile'] / GIB:.2f})"


def _limited(r: dict[str, Any]) -> str:
    if "error" in r:
        return "failed: " + r["error"][:120]
    group = f"{r['cgroup_peak_bytes'] / GIB:.2f}" if r.get("cgroup_peak_bytes") else "—"
    return (f"{r['recluster_s']:.1f}; {group}; {r['peak_bytes'] / GIB:.2f} ({r['peak_anon_bytes'] / GIB:.2f})"
            + ("" if r.get("page_cache_dropped") else " (page cache not dropped)"))


def table(empty: dict[str, Any], by_size: dict[int, dict[str, Any]], analysis_s: float,
          real: dict[str, float]) -> str:
    sizes = sorted(by_size)
    heads = [f"{s:,} faces" for s in sizes]
    base = _mean_ms(empty)

    def row(name: str, cells: list[str], target: str = "", empty_cell: str = "") -> str:
        return f"| {name} | {empty_cell} | " + " | ".join(cells) + f" | {target} |"

    def cell(fn: Callable[[dict[str, Any]], str]) -> list[str]:
        out = []
        for s in sizes:
            try:
                out.append(fn(by_size[s]))
            except (KeyError, TypeError, IndexError):
                errors = [v["error"] for v in by_size[s].values() if isinstance(v, dict) and "error" in v]
                out.append("failed: " + (errors[0] if errors else "see scale.json")[:120])
        return out

    def ratio(f: dict[str, Any], with_analysis: bool) -> str:
        ms = _mean_ms(f["assign"])
        extra = analysis_s * 1e3 if with_analysis else 0.0
        return f"{(ms + extra) / (base + extra):.2f}×" if ms is not None and base else "—"

    lines = [
        "| figure | empty store | " + " | ".join(heads) + " | target at 1M |",
        "|---|---|" + "---|" * len(sizes) + "---|",
        row("identities (synthetic) / faces stored", cell(lambda f: f"{f['identities']:,} / {f['faces']:,}")),
        row("upsert rate, EdgeFaceStore.upsert of 500 videos a call (faces/s)",
            cell(lambda f: f"{f['upsert_rate']:,.0f}")),
        row("crops: CropStore.save, one a person, ~8.8 KB JPEG (crops/s)", cell(lambda f: f"{f['crop_rate']:,.0f}")),
        row("build the index: store.optimize() (s)", cell(lambda f: f"{f['optimize_s']:.1f}")),
        row("store on disk (GiB)", cell(lambda f: f"{f['disk_bytes'] / GIB:.2f}")),
        row("kNN p50 / p99: store.search, 1 vector, limit 32, copy = 0 (ms)",
            cell(lambda f: "{:.2f} / {:.2f}".format(*f["serve"]["knn_ms"])), "p50 ≤ 5 ms"),
        row("kNN + payload filter p50 / p99: EdgeShard.query, influencer_id = X and copy = 0, limit 32 (ms)",
            cell(lambda f: "{:.2f} / {:.2f}".format(*f["serve"]["knn_filtered_ms"]))),
        row("filtered read p50 / p99: store.faces_where(video_id = X), ~6 faces (ms)",
            cell(lambda f: "{:.2f} / {:.2f}".format(*f["serve"]["scroll_video_ms"]))),
        row("fresh face → nearest face of its own identity, p5 / p50 / p95",
            cell(lambda f: " / ".join(f"{v:.2f}" for v in f["serve"]["nearest_same"])),
            f"real photos, same person: {real['same_p5']:.2f} / {real['same_p50']:.2f} / {real['same_p95']:.2f}"),
        row("fresh face → nearest face of another identity, p5 / p50 / p95",
            cell(lambda f: " / ".join(f"{v:.2f}" for v in f["serve"]["nearest_other"])),
            f"real photos: {real['nearest_other_p5']:.2f} / {real['nearest_other_p50']:.2f} / "
            f"{real['nearest_other_p95']:.2f}"),
        row("identity per video: registry.assign of a smoke video (ms), ratio to empty",
            cell(lambda f: f"{_mean_ms(f['assign']):.0f} ({ratio(f, False)})"), "≤ 1.3×", f"{_fmt(base, '.0f')} (1×)"),
        row(f"identity per video with the analysis ({analysis_s:.2f} s a video, measured once), ratio",
            cell(lambda f: ratio(f, True)), "≤ 1.3×", "1×"),
        row("whole-store re-cluster: registry.recluster() (s)", cell(lambda f: f"{f['recluster']['recluster_s']:.1f}"),
            "≤ 600 s"),
        row("re-cluster peak RSS, child process (GiB): VmHWM (sampled peaks: heap, mapped files)",
            cell(lambda f: f"{f['recluster']['peak_bytes'] / GIB:.2f} ({f['recluster']['peak_anon_bytes'] / GIB:.2f}, "
                           f"{f['recluster']['peak_file_bytes'] / GIB:.2f})")),
        row(f"re-cluster of a copy in a {MEMORY_LIMIT / GIB:.0f} GiB memory cgroup, page cache dropped first: "
            "time (s); the group's peak, heap and page cache (GiB); VmHWM (heap peak) (GiB)",
            cell(lambda f: _limited(f["recluster_limited"])), "≤ 600 s in 2 GiB"),
        row("influencers before → after re-cluster; videos changed",
            cell(lambda f: f"{f['recluster']['influencers_before']:,} → {f['recluster']['influencers_after']:,}; "
                           f"{f['recluster']['changed_videos']:,}")),
        row("identity RSS at rest: open_face_store + IdentityRegistry (GiB; heap + mapped files)",
            cell(lambda f: _rss(f["serve"]["rest_bytes"], f["serve"].get("rest_parts"))), "≤ 1.5 GiB"),
        row(f"identity RSS after {QUERIES * 2} kNN queries and {QUERIES} filtered reads (GiB; heap + mapped files)",
            cell(lambda f: _rss(f["serve"]["after_queries_bytes"], f["serve"].get("after_queries_parts")))),
        row("open the store (s)", cell(lambda f: f"{f['serve']['open_s']:.2f}")),
    ]
    resume = [by_size[s].get("resume") for s in sizes]
    if any(resume):
        lines.append(row(f"resume after SIGKILL {KILL_AFTER_S:.0f} s into upserts: reopen (s); faces acknowledged, "
                         "found (of the batch in flight)", [
                             f"{r['reopen_s']:.2f} s; {r['acked']:,}, {r['count'] - r['before']:,} "
                             f"(+{r['extra']:,} of {r['inflight']:,})" if r else "" for r in resume],
                         "count ≥ acknowledged"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="store sizes in faces, comma-separated")
    ap.add_argument("--keep", type=Path, help="folder to keep the built stores in, and reuse them from")
    ap.add_argument("--photos", type=Path, default=CORPORA / "photos")
    ap.add_argument("--manifest", type=Path, default=CORPORA / "smoke" / "manifest.csv")
    ap.add_argument("--render", action="store_true",
                    help="only print the table of bench/out/scale.json again (and rewrite scale.md)")
    args = ap.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    t_start, load = time.perf_counter(), os.getloadavg()
    encodings, labels = real_encodings(args.photos, OUT / "encodings.npy")
    space = FaceSpace.from_encodings(encodings, labels)
    real = distance_profile(encodings, labels)
    analyses = smoke_analyses(args.manifest, OUT / "smoke_analyses.pkl")
    analysis_s = statistics.mean(a[2] for a in analyses)
    if args.render:
        saved = json.loads((OUT / "scale.json").read_text())
        text = table(saved["empty"], {int(k): v for k, v in saved["sizes"].items()}, analysis_s, real)
        print(text)
        (OUT / "scale.md").write_text(text + "\n")
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="scale-", dir=OUT))
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="scale-empty-", dir=OUT) as tmp:
            empty = in_child(child_assign, Path(tmp), analyses)
        by_size = {}
        for size in sizes:
            by_size[size] = measure(size, root, space, analyses, kill=size == sizes[-1])
            (OUT / "scale.json").write_text(json.dumps({"empty": empty, "sizes": by_size}, indent=1, default=str))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    text = (f"Face store at scale (bench/scale.py, {os.cpu_count()} cores, load average {load[0]:.1f} at start and "
            f"{os.getloadavg()[0]:.1f} at end, {len(analyses)} smoke videos, "
            f"{time.perf_counter() - t_start:.0f} s in all)\n\n" + table(empty, by_size, analysis_s, real))
    print(text)
    (OUT / "scale.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
