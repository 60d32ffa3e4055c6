"""Interlaced HEVC, coded as field pictures (x265's `interlace`, fed the fields of each frame, as broadcast 1080i
HEVC comes): FFmpeg's decoder gives each field as a picture of its own, half the frame's height. The media are made
here with ffmpeg into tmp_path."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from services.ingest.sampling import ShotSampler
from services.ingest.video import sample_frames

# A grey 320x240 frame whose top-left 106x80 (a third of each side) is white: a shape anyone can check.
MARKED = "color=c=0x3c3c3c:size=320x240:rate=25:duration=2,drawbox=x=0:y=0:w=106:h=80:color=white:t=fill"


def fields(path: Path, order: str) -> Path:
    """`path`: MARKED coded as HEVC field pictures, `order` ("tff" or "bff") first, 50 fields of 320x120 a second."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"{MARKED},setfield={order},separatefields",
                    "-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", f"interlace={order}:log-level=error",
                    str(path)], check=True)
    return path


@pytest.mark.parametrize(("order", "suffix"), [("tff", "mp4"), ("bff", "mkv"), ("tff", "ts")])
def test_hevc_field_pictures_are_sampled_at_the_frames_full_height_not_squashed(tmp_path, order, suffix):
    """Each field is sampled at the frame's height (320x240, its lines doubled), so the white third stays a third of
    the height and a face keeps its shape. Was: 320x120, every face squashed to half its height."""
    info, sampled = sample_frames(fields(tmp_path / f"clip.{suffix}", order), ShotSampler(1.0))
    frames = list(sampled)
    assert (info.width, info.height) == (320, 240) and len(frames) >= 2
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    for frame in frames:
        assert frame.bgr.shape == (240, 320, 3)
        grey = frame.bgr.mean(axis=2)
        white_rows = np.flatnonzero(grey[:, 40] > 200)
        assert 76 <= len(white_rows) <= 84 and white_rows[0] <= 2, len(white_rows)
        assert grey[90:, 40].max() < 90 and grey[40, 120:].max() < 90


@pytest.mark.parametrize("params", ["log-level=error", "log-level=error:pic-struct=3"])
def test_a_progressive_hevc_video_keeps_its_size(tmp_path, params):
    """The same frames coded progressive, with no picture timing or one naming whole frames (pic_struct 3: a frame
    of its top then bottom field): sampled as coded."""
    path = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", MARKED, "-c:v", "libx265", "-pix_fmt", "yuv420p",
                    "-x265-params", params, str(path)], check=True)
    info, sampled = sample_frames(path, ShotSampler(1.0))
    assert (info.width, info.height) == (320, 240) and {f.bgr.shape for f in sampled} == {(240, 320, 3)}
