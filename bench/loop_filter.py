"""What FFmpeg's deblocking costs the decoders (issue 22): the CPU seconds of decoding a corpus's videos as ingest's
decoders do (PyAV, slice threads, frames no other refers to skipped), with the loop filter and without it
(`skip_loop_filter=all`), in turns. Skipping it changes the pixels of every reference frame, so this measures a
lever, not a setting the product uses.

    .venv/bin/python bench/loop_filter.py [--corpus ../shared/corpus/dev] [--videos 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av


def decode_cpu(videos: list[Path], skip_loop_filter: bool) -> tuple[float, int]:
    """CPU seconds of this process to decode `videos` as the decoders do, and the frames decoded."""
    started, frames = time.process_time(), 0
    for path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            stream.codec_context.skip_frame = "NONREF"
            if skip_loop_filter:
                stream.codec_context.options = {"skip_loop_filter": "all"}
            for packet in container.demux(stream):
                frames += len(packet.decode())
    return time.process_time() - started, frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus/dev",
                        help="folder with videos/")
    parser.add_argument("--videos", type=int, default=20, help="how many of its videos, in name order")
    parser.add_argument("--rounds", type=int, default=2, help="turns of (with, without)")
    args = parser.parse_args()
    videos = sorted((args.corpus / "videos").glob("*.mp4"))[:args.videos]
    for _ in range(args.rounds):
        for skip in (False, True):
            cpu, frames = decode_cpu(videos, skip)
            print(f"{'without' if skip else 'with'} the loop filter: {cpu:.2f} CPU s, {frames} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
