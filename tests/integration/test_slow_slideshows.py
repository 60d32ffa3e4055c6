"""Slideshows of a picture every few seconds, encoded at their own low rate (a photo montage exported at 0.2 fps):
a frame rate under 1 fps is taken as 1 fps for safety, so each frame's own duration tells how long the last picture
is shown. The media are made here with ffmpeg into tmp_path."""

import subprocess

import pytest

from services.ingest.sampling import ShotSampler
from services.ingest.video import sample_frames


@pytest.mark.parametrize(("rate", "seconds", "suffix"), [("1/5", 50, "mp4"), ("1/5", 50, "mkv"), ("1/20", 100, "ts"),
                                                          ("1/10", 40, "ts")])
def test_a_slideshow_of_a_picture_every_few_seconds_lasts_as_long_as_its_pictures_are_shown(
        tmp_path, rate, seconds, suffix):
    """Ten pictures 5 s apart (MP4, Matroska) last 50 s, the last one shown its 5 s, with no warning; five pictures
    20 s apart in MPEG-TS each come at their time and last 100 s; four 10 s apart in MPEG-TS 40 s (the file states
    32 s: the span of its times and a last frame of 2 s, FFmpeg's guess from the rate its H.264 states, where each
    frame states its 10 s). Was: 46 s and `decoding stopped at 46.0 s of the 50.0 s the file states (the file is cut
    short)` (MP4: its frames then left out of the repost check), 46 s (Matroska); the TS pictures joined as segments,
    5 s in all, each a second apart; four 10 s apart in MPEG-TS, 32 s."""
    path = tmp_path / f"slides.{suffix}"
    pattern = f"testsrc2=size=160x120:rate={rate}:duration={seconds}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", pattern, "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(path)], check=True)
    info, sampled = sample_frames(path, ShotSampler(1.0))
    frames = list(sampled)
    step = seconds / len(frames)
    assert info.duration_s == pytest.approx(seconds, abs=0.05) and info.warning == ""
    assert [f.timestamp_s for f in frames] == pytest.approx([k * step for k in range(len(frames))], abs=0.05)
    assert frames[-1].span_s == pytest.approx(step, abs=0.05)
