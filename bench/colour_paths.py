"""ingest's colour conversion of an 8-bit opaque frame at its own size (services/ingest/colour.py, to_bgr): swscale's
bgr24 straight (now) against rgb24 then OpenCV's swap (before). Every frame of every dev video (and of 8-bit clips
ffmpeg makes: full range, BT.709, odd sizes, 4:2:2, 4:4:4, and NV12, which differs and so keeps the swap), compared
pixel for pixel, and the CPU of each.

    .venv/bin/python bench/colour_paths.py [--every 1]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from services.ingest.colour import BGR_AS_RGB, INTERPOLATION, _progressive
from services.ingest.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "corpus" / "dev"
CLIPS = {  # name: ffmpeg's output arguments for a testsrc clip
    "full range": ["-vf", "scale=out_range=pc,format=yuvj420p", "-c:v", "libx264", "-color_range", "pc"],
    "bt709": ["-vf", "scale=out_color_matrix=bt709,format=yuv420p", "-c:v", "libx264", "-colorspace", "bt709"],
    "odd size 161x121": ["-vf", "scale=161:121,format=yuv420p", "-c:v", "ffv1"],
    "4:2:2": ["-vf", "format=yuv422p", "-c:v", "libx264"],
    "4:4:4": ["-vf", "format=yuv444p", "-c:v", "libx264"],
    "nv12 rawvideo": ["-vf", "format=nv12", "-c:v", "rawvideo", "-f", "nut"],
    "mpeg-4 part 2": ["-c:v", "mpeg4"],
}


def before(frame: av.VideoFrame) -> np.ndarray:
    rgb = _progressive(frame).reformat(width=frame.width, height=frame.height, format="rgb24",
                                       interpolation=INTERPOLATION).to_ndarray()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def now(frame: av.VideoFrame) -> np.ndarray:
    return _progressive(frame).reformat(format="bgr24", interpolation=INTERPOLATION).to_ndarray()


def compare(path: Path, every: int, cpu: list[float], all_formats: bool = False) -> tuple[int, int]:
    """(frames compared, frames differing) of one video, those of BGR_AS_RGB's formats (`all_formats`: every one);
    adds each path's CPU seconds to `cpu`."""
    frames = differ = 0
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k % every or (frame.format.name not in BGR_AS_RGB and not all_formats):
                continue
            t0 = time.thread_time()
            a = before(frame)
            t1 = time.thread_time()
            b = now(frame)
            cpu[0] += t1 - t0
            cpu[1] += time.thread_time() - t1
            frames += 1
            differ += not np.array_equal(a, b)
    return frames, differ


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--every", type=int, default=1, help="compare every Nth decoded frame")
    args = p.parse_args()
    cv2.setNumThreads(1)  # as in a decoder process
    cpu = [0.0, 0.0]
    paths: list[Path] = []
    for row in read_manifest(DEV / "manifest.csv"):
        if (DEV / row.url) not in paths:
            paths.append(DEV / row.url)
    total = [0, 0]
    for path in paths:
        n, d = compare(path, args.every, cpu)
        total[0] += n
        total[1] += d
    print(f"dev, {len(paths)} videos: {total[0]} frames, {total[1]} differ; CPU ms a frame "
          f"{cpu[0] / total[0] * 1e3:.3f} before, {cpu[1] / total[0] * 1e3:.3f} now")
    with tempfile.TemporaryDirectory() as tmp:
        for name, out in CLIPS.items():
            path = Path(tmp) / ("clip.nut" if "nut" in out else "clip.mkv")
            source = "testsrc=size=160x120:rate=25:duration=1"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *out, str(path)], check=True)
            n, d = compare(path, 1, [0.0, 0.0], all_formats=True)
            print(f"{name}: {n} frames, {d} differ")


if __name__ == "__main__":
    main()
