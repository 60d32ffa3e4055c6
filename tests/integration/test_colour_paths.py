"""ingest's colour conversion (services/ingest/colour.py): an 8-bit planar YUV frame is written by swscale as BGR
straight, with the very pixels of its RGB conversion swapped, so sampled frames (and every face found in them) stay
what they were; NV12, whose BGR from swscale differs, and a frame scaled to its aspect keep the RGB and the swap."""

import subprocess
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from services.ingest.colour import BGR_AS_RGB, INTERPOLATION, _progressive, to_bgr

CLIPS = {  # pixel format: ffmpeg's output arguments for a testsrc clip of sharp colour edges, and its container
    "yuv420p": (["-vf", "format=yuv420p", "-c:v", "libx264"], "mkv"),
    "yuvj420p": (["-vf", "scale=out_range=pc,format=yuvj420p", "-c:v", "libx264", "-color_range", "pc"], "mkv"),
    "yuv422p": (["-vf", "format=yuv422p", "-c:v", "libx264"], "mkv"),
    "yuv444p": (["-vf", "format=yuv444p", "-c:v", "libx264"], "mkv"),
    "nv12": (["-vf", "format=nv12", "-c:v", "rawvideo", "-f", "nut"], "nut"),
}


def _swapped_rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    rgb = _progressive(frame).reformat(width=width, height=height, format="rgb24",
                                       interpolation=INTERPOLATION).to_ndarray()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _first_frame(tmp_path, name: str, size: str = "161x121") -> av.VideoFrame:
    args, suffix = CLIPS[name]
    path = tmp_path / f"clip.{suffix}"
    codec = ["-c:v", "ffv1"] if name != "nv12" and size != "160x120" else []  # libx264 takes no odd size
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration=0.2",
                    *args, *codec, str(path)], check=True)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame


@pytest.mark.parametrize("name", CLIPS)
@pytest.mark.parametrize("size", ["160x120", "161x121"])
def test_a_frame_of_8_bit_planar_yuv_becomes_bgr_with_the_pixels_of_its_rgb_swapped(tmp_path, name, size):
    frame = _first_frame(tmp_path, name, size)  # an odd-sized full-range clip (FFV1) decodes as yuv420p, full range
    assert frame.format.name in BGR_AS_RGB or frame.format.name == name == "nv12"
    assert np.array_equal(to_bgr(frame, frame.width, frame.height), _swapped_rgb(frame, frame.width, frame.height))


def test_a_frame_scaled_to_its_aspect_is_converted_through_rgb_as_before(tmp_path):
    frame = _first_frame(tmp_path, "yuv420p", "160x120")
    frame.time_base = Fraction(1, 25)
    assert np.array_equal(to_bgr(frame, 200, 120), _swapped_rgb(frame, 200, 120))
