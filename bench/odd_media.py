"""What a large animation costs beside its decoder's own work: a GIF of one-pixel frames on a 4096x4096 canvas
(a few kB that decode to whole canvases), decoded alone with PyAV, then sampled as ingest samples it. The
thumbnail of an RGB frame once scaled the whole canvas with smoothing (20 ms a frame, five times the decoder),
which let a 700 kB GIF keep a worker busy for 20 minutes; it reads one pixel a cell now. CPU seconds, best of
REPEATS.

    .venv/bin/python bench/odd_media.py [--side 4096] [--frames 150] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import av  # noqa: E402

from services.ingest.sampling import ShotSampler  # noqa: E402
from services.ingest.video import sample_frames  # noqa: E402
from tests.support.media import write_pixel_animation  # noqa: E402


def cpu_seconds(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        path = write_pixel_animation(Path(scratch) / "canvas.gif", args.side, args.frames)

        def decode_only() -> None:
            with av.open(str(path)) as container:
                for _ in container.decode(video=0):
                    pass

        def sample() -> None:
            _, frames = sample_frames(path, ShotSampler(1.0))
            for _ in frames:
                pass

        decoder = min(cpu_seconds(decode_only) for _ in range(args.repeats))
        sampled = min(cpu_seconds(sample) for _ in range(args.repeats))
        size = path.stat().st_size
    print(f"{args.frames} frames on a {args.side}x{args.side} canvas ({size:,} bytes)")
    print(f"decoder alone   {decoder:7.2f} CPU s")
    print(f"ingest sampling {sampled:7.2f} CPU s  ({sampled / decoder:.2f}x the decoder)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
