"""Memory of one long video: `influencers run` on a single video of SECONDS seconds (just under the default
10-minute cap), made by joining the corpus's videos end to end, with the peak resident memory of the whole
process tree and of the run's own process. Memory should not grow with the video's length: no frame is
kept once analysed, and a video's JPEGs wait in a file (services/common/spool.py), not in memory.

    .venv/bin/python bench/long_video.py [--seconds 590] [--corpus DIR]

Prints a table and writes bench/out/long_video.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from throughput_memory import GIB
from throughput_user import run_as_user

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpus"
WIDTH, HEIGHT, FPS = 720, 1280, 25


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=590.0, help="length of the joined video")
    p.add_argument("--corpus", type=Path, default=CORPORA / "dev", help="folder whose videos/ are joined")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "long_video.json")
    return p.parse_args(argv)


def join_videos(sources: list[Path], seconds: float, out: Path) -> float:
    """Writes `out` (H.264, WIDTH x HEIGHT, FPS) from the frames of `sources` in turn, until `seconds`
    of video; returns its length in seconds."""
    frames_wanted = int(seconds * FPS)
    written = 0
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.time_base = Fraction(1, FPS)
        while written < frames_wanted:
            for source in sources:
                with av.open(str(source)) as src:
                    for frame in src.decode(video=0):
                        image = frame.reformat(width=WIDTH, height=HEIGHT, format="yuv420p")
                        image.pts, image.time_base = written, Fraction(1, FPS)
                        dst.mux(stream.encode(image))
                        written += 1
                        if written >= frames_wanted:
                            break
                if written >= frames_wanted:
                    break
        dst.mux(stream.encode(None))
    return written / FPS


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sources = sorted((args.corpus / "videos").glob("*.mp4"))
    if not sources:
        print(f"no videos in {args.corpus / 'videos'}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        video = Path(tmp) / "long.mp4"
        t0 = time.perf_counter()
        length = join_videos(sources, args.seconds, video)
        print(f"  joined {length:.0f} s of video from {args.corpus} in {time.perf_counter() - t0:.0f} s",
              flush=True)
        manifest = Path(tmp) / "manifest.csv"
        manifest.write_text(f"Performance,Video URL\n1.0,{video}\n")
        run = run_as_user(manifest)
    figures = {"video_s": length, "wall_s": run.wall_s, "exit_code": run.exit_code,
               "peak_rss_tree_gib": run.peak_rss_bytes / GIB, "peak_rss_run_gib": run.peak_rss_main_bytes / GIB}
    print(f"\n== `influencers run` on one {length:.0f} s video ==")
    print(f"  {'wall time, start-up to report':40s} {run.wall_s:8.1f} s   exit code {run.exit_code}")
    print(f"  {'peak memory (RSS, process tree)':40s} {figures['peak_rss_tree_gib']:8.2f} GiB")
    print(f"  {'peak memory, the run own process':40s} {figures['peak_rss_run_gib']:8.2f} GiB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(f"\nfigures written to {args.out}")
    return 0 if run.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
