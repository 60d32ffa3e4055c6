"""A video's duration is the one a player shows (its first frame shown to its last, plus that frame's duration),
and frame times count from its first frame shown, whatever the container's start time or time base: a Matroska
file whose head lies before 0 (FFmpeg reads those blocks without a time, and a player shows none of them), and an
MP4 of timescale 10, whose coarse B-frame times come out of the decoder out of order. The files are made here,
with FFmpeg's muxers and the options ffmpeg's command line gives them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from services.ingest.sampling import ShotSampler
from services.ingest.video import sample_frames


def level(i: int) -> int:
    return 20 + 3 * i


def frame_number(bgr: np.ndarray) -> int:
    """The number of the frame a sampled picture is (its flat grey level, from level())."""
    return round((int(bgr[24, 32, 1]) - 20) / 3)


def numbered_packets(count: int, fps: int, bframes: int) -> list[av.Packet]:
    """H.264 packets of `count` flat grey frames at `fps`, frame i of level(i), time base 1/fps."""
    with av.open("/dev/null", "w", format="null") as sink:
        stream = sink.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"crf": "10", "g": "10", "bf": str(bframes)}
        stream.codec_context.time_base = Fraction(1, fps)
        packets = []
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), level(i), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            packets += stream.encode(frame)
        packets += stream.encode()
    return packets


def numbered_video(path: Path, fmt: str, count: int = 30, fps: int = 10, bframes: int = 0,
                   options: dict[str, str] | None = None) -> Path:
    """`count` numbered frames at `fps` in a file of format `fmt`, its muxer given `options` (as ffmpeg's)."""
    with av.open(str(path), "w", format=fmt, container_options=options or {}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"crf": "10", "g": "10", "bf": str(bframes)}
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), level(i), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def coarse_mp4(path: Path, count: int = 75, fps: int = 25) -> Path:
    """`ffmpeg -i clip -c copy -video_track_timescale 10 out.mp4` of a clip with B-frames: each time rounded to a
    tenth of a second, and where a decoding time meets the last ffmpeg moves it a tick on (its "Non-monotonic
    DTS" fix-up), which leaves B-frames' presentation times out of order."""
    tick = Fraction(1, 10)
    with av.open(str(path), "w", format="mp4", container_options={"video_track_timescale": "10"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = tick
        last_dts = None
        for packet in numbered_packets(count, fps, bframes=3):
            pts = round(packet.pts * packet.time_base / tick)
            dts = round(packet.dts * packet.time_base / tick)
            if last_dts is not None and dts <= last_dts:
                pts, dts = (max(pts, last_dts + 1) if pts >= dts else pts), last_dts + 1
            packet.pts, packet.dts, packet.duration, packet.time_base = pts, dts, 1, tick
            packet.stream = stream
            out.mux(packet)
            last_dts = dts
    return path


def sampled(path: Path):
    info, frames = sample_frames(path, ShotSampler(1.0))
    return info, list(frames)


def shown_times(path: Path) -> list[float]:
    """Seconds of each frame FFmpeg gives a time (ffprobe's frame times), in presentation order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(float(f.pts * stream.time_base) for f in container.decode(stream) if f.pts is not None)


def test_a_matroska_file_whose_timestamps_start_2_s_before_0_lasts_from_its_frame_at_0(tmp_path):
    clip = numbered_video(tmp_path / "early.mkv", "matroska",
                          options={"output_ts_offset": "-2", "avoid_negative_ts": "disabled"})
    times = shown_times(clip)
    assert times[0] == 0.0 and len(times) == 10, "FFmpeg reads the 20 blocks before 0 without a time"
    info, frames = sampled(clip)
    assert info.duration_s == pytest.approx(1.0), "frames 0 to 0.9 s shown, and the last one's 0.1 s"
    assert info.start_s == 0.0
    assert [(f.timestamp_s, frame_number(f.bgr)) for f in frames] == [(0.0, 20)], "the frame a player shows at 0"
    assert frames[0].span_s == pytest.approx(1.0)


def test_a_b_frame_delay_kept_before_0_starts_the_video_at_its_frame_at_0(tmp_path):
    clip = numbered_video(tmp_path / "delay.mkv", "matroska", bframes=2,
                          options={"output_ts_offset": "-0.2", "avoid_negative_ts": "disabled"})
    assert shown_times(clip)[0] == 0.0
    info, frames = sampled(clip)
    assert info.duration_s == pytest.approx(2.8) and info.start_s == 0.0
    assert frames[0].timestamp_s == 0.0 and frame_number(frames[0].bgr) == 2, "source frame 2 lies at 0"
    for f in frames:
        assert frame_number(f.bgr) == pytest.approx(round(f.timestamp_s * 10) + 2, abs=1)


def test_an_mp4_of_timescale_10_lasts_what_its_frame_times_say_not_more(tmp_path):
    clip = coarse_mp4(tmp_path / "coarse.mp4")
    times = shown_times(clip)
    assert len(times) == 75
    with av.open(str(clip)) as container:
        stated_s = container.duration / 1_000_000
    info, frames = sampled(clip)
    # A player shows the last frame at its time and for a tick: was 10.7 s, each out-of-order frame a frame on.
    assert info.duration_s == pytest.approx(times[-1] + 0.1, abs=0.01) == pytest.approx(stated_s, abs=0.01)
    assert info.start_s == 0.0
    assert all(f.timestamp_s <= times[-1] + 1e-9 for f in frames)
    assert [f.timestamp_s for f in frames] == sorted(f.timestamp_s for f in frames)


def test_a_stream_of_no_timestamps_at_all_counts_its_frames_from_the_first(tmp_path):
    clip = numbered_video(tmp_path / "raw.h264", "h264")
    info, frames = sampled(clip)
    assert info.duration_s == pytest.approx(3.0) and info.start_s == 0.0
    assert [(round(f.timestamp_s, 3), frame_number(f.bgr)) for f in frames] == [(0.0, 0), (1.0, 10), (2.0, 20)]


def test_a_matroska_file_of_untimed_blocks_alone_counts_its_frames_from_the_first(tmp_path):
    """Every block before 0 (the whole clip shifted 5 s back): none has a time, so none is left out."""
    clip = numbered_video(tmp_path / "all-early.mkv", "matroska",
                          options={"output_ts_offset": "-5", "avoid_negative_ts": "disabled"})
    assert shown_times(clip) == []
    info, frames = sampled(clip)
    assert [(round(f.timestamp_s, 3), frame_number(f.bgr)) for f in frames] == [(0.0, 0), (1.0, 10), (2.0, 20)]
    assert info.duration_s == pytest.approx(3.0)
