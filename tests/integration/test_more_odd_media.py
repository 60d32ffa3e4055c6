"""Odd files tried against ingest's decoding in session 46 that needed no change: each ends as an analysis or a clear
error, never another exception or a hang (docs/bad-input.md lists them). The media are made here with ffmpeg into
tmp_path; an MP4's stated length is rewritten in its header."""

import struct
import subprocess
from pathlib import Path

import pytest

from services.ingest.sampling import ShotSampler
from services.ingest.video import VideoError, sample_frames

PATTERN = "testsrc2=size=160x120:rate=25:duration=4"


def ffmpeg(path: Path, *args: str, pattern: str = PATTERN) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", pattern, *args, str(path)], check=True)
    return path


def decode(path: Path) -> tuple:
    info, frames = sample_frames(path, ShotSampler(1.0), max_seconds=600)
    return info, list(frames)


@pytest.mark.parametrize(("suffix", "back"), [("ts", 90000), ("mkv", 1000), ("mp4", 12800)])
def test_a_video_track_whose_timestamps_go_back_a_second_is_sampled_to_its_end(tmp_path, suffix, back):
    """Frames from the 51st on stamped a second earlier (a bad join): the step back is rebased to follow on, every
    part sampled, the length within a second of the 4 s of frames, no warning."""
    path = ffmpeg(tmp_path / f"back.{suffix}", "-c:v", "libx264", "-bf", "0", "-bsf:v",
                  f"setts=ts=if(gte(N\\,50)\\,TS-{back}\\,TS)")
    info, frames = decode(path)
    assert 3.0 <= info.duration_s <= 4.05 and info.warning == ""
    assert len(frames) >= 3 and frames[-1].timestamp_s > 2.5


def test_a_video_whose_timestamps_all_run_backwards_is_sampled_over_its_frames(tmp_path):
    """Every frame stamped before the one before it (a Matroska file written backwards): 4 s of frames, sampled once a
    second."""
    info, frames = decode(ffmpeg(tmp_path / "reverse.mkv", "-c:v", "libx264", "-bf", "0", "-bsf:v",
                                 "setts=ts=(100-N)*512"))
    assert info.duration_s == pytest.approx(4.0, abs=0.1) and len(frames) == 4


def test_a_16000_px_wide_strip_is_refused_under_32_px_and_sampled_at_32(tmp_path):
    """16000x16: refused naming its size (under 32 px a side); 16000x32: a strip sampled at its size."""
    with pytest.raises(VideoError, match=r"^unsupported resolution 16000x16 \(under 32 px a side"):
        decode(ffmpeg(tmp_path / "16.mp4", "-c:v", "libx264", pattern="color=c=gray:size=16000x16:rate=25:duration=1"))
    info, frames = decode(ffmpeg(tmp_path / "32.mp4", "-c:v", "libx264",
                                 pattern="color=c=gray:size=16000x32:rate=25:duration=1"))
    assert (info.width, info.height) == (16000, 32) and frames[0].bgr.shape == (32, 16000, 3)


@pytest.mark.parametrize(("args", "suffix"), [(("-c:v", "libvpx-vp9"), "webm"), (("-f", "apng"), "apng"),
                                              (("-f", "gif"), "gif")])
def test_a_webm_apng_or_gif_named_mp4_is_read_as_what_it_is(tmp_path, args, suffix):
    """The bytes decide, not the name: a WebM, an animated PNG or a GIF named `.mp4` is the 2 s video it is."""
    made = ffmpeg(tmp_path / f"clip.{suffix}", *args, pattern="testsrc2=size=160x120:rate=10:duration=2")
    named = made.rename(tmp_path / "clip.mp4")
    info, frames = decode(named)
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and len(frames) == 2


def test_an_mp4_whose_header_states_ten_hours_for_two_seconds_of_frames_is_as_long_as_its_frames(tmp_path):
    """mvhd, tkhd and mdhd rewritten to state 10 hours (over the 600 s cap) for an index of 2 s: its end, read by a
    seek, lies within the cap, so it is decoded for what its index holds: 2 s, no warning (the index is whole)."""
    path = ffmpeg(tmp_path / "two.mp4", "-c:v", "libx264", pattern="testsrc2=size=160x120:rate=25:duration=2")
    data = bytearray(path.read_bytes())
    for box in (b"mvhd", b"mdhd"):  # version 0: timescale at +16, duration at +20 from the box's type
        at = data.find(box)
        struct.pack_into(">I", data, at + 20, struct.unpack(">I", data[at + 16:at + 20])[0] * 36000)
    at = data.find(b"tkhd")
    struct.pack_into(">I", data, at + 24, 1000 * 36000)  # in the movie's timescale (1000)
    path.write_bytes(bytes(data))
    info, frames = decode(path)
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and info.warning == "" and len(frames) == 2
