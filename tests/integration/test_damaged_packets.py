"""A video with packets damaged in the middle (bytes lost or overwritten in a copy, an upload, a disk): the decoder
refuses those packets, and decoding goes on after them, as players go on, picking up at the next key frame. The
media are made here with ffmpeg into tmp_path."""

import subprocess
from pathlib import Path

import av
import pytest

from services.ingest.sampling import ShotSampler
from services.ingest.video import VideoError, sample_frames


def damaged(path: Path, codec: tuple[str, ...], at_s: float, count: int = 1, seconds: int = 4) -> Path:
    """`path`: `seconds` at 25 fps, a key frame a second, whose `count` packets from `at_s` have every byte overwritten
    with 0xFF (the file's size and index kept)."""
    whole = path.with_name(f"{path.stem}.whole{path.suffix}")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={seconds}",
                    *codec, "-g", "25", "-pix_fmt", "yuv420p", str(whole)], check=True)
    data = bytearray(whole.read_bytes())
    with av.open(str(whole)) as container:
        stream = container.streams.video[0]
        hit = [(p.pos, p.size) for p in container.demux(stream)
               if p.size and p.pts is not None and float(p.pts * stream.time_base) >= at_s][:count]
    for pos, size in hit:
        data[pos:pos + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_packet_in_the_middle_is_skipped_and_the_video_decoded_to_its_end(tmp_path):
    """One H.264 packet at 1.5 s overwritten: the video is decoded to its 4 s end, sampled each second, and its row
    warns that a damaged packet was skipped. Was: `decoding stopped at 1.5 s of the 4.0 s the file states (damaged:
    invalid data)`, the 2.5 s after it never seen (10 minutes after a damaged packet at 0:30 lost alike)."""
    info, sampled = sample_frames(damaged(tmp_path / "clip.mp4", ("-c:v", "libx264", "-bf", "0"), 1.5),
                                  ShotSampler(1.0))
    frames = list(sampled)
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert [round(f.timestamp_s) for f in frames] == [0, 1, 2, 3]
    assert info.warning.startswith("1 damaged packet skipped (invalid data: the frames until the next key frame may "
                                   "be missing, faces in them missed)")


def test_packets_damaged_with_no_key_frame_after_them_say_where_decoding_stopped_and_why(tmp_path):
    """HEVC whose first key frame is its only one (x265's default GOP is longer than the video): after the damaged
    packet nothing decodes, so the row says decoding stopped there, damaged, never `the file is cut short`."""
    path = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=4", "-c:v",
                    "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p", str(path)], check=True)
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pos, size = next((p.pos, p.size) for p in container.demux(stream)
                         if p.size and p.pts is not None and float(p.pts * stream.time_base) >= 1.5)
    data[pos:pos + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    info, sampled = sample_frames(path, ShotSampler(1.0))
    assert len(list(sampled)) >= 2 and info.duration_s < 3.0
    assert info.warning.startswith("decoding stopped at ") and "(damaged: invalid data in " in info.warning
    assert "cut short" not in info.warning


def test_a_stream_of_garbage_after_its_first_frames_stops_at_the_garbage(tmp_path):
    """Every packet after 1 s of 15 s overwritten: the decoder refuses 250 in a row, and the rest is taken for garbage
    (not tried to its end): decoding stops there, damaged. A stream that never decodes is still refused."""
    path = damaged(tmp_path / "clip.mp4", ("-c:v", "libx264", "-bf", "0"), 1.0, count=1000, seconds=15)
    info, sampled = sample_frames(path, ShotSampler(1.0))
    assert len(list(sampled)) == 1
    assert info.warning == "decoding stopped at 1.0 s of the 15.0 s the file states (damaged: invalid data)"
    dead = damaged(tmp_path / "dead.mp4", ("-c:v", "libx264", "-bf", "0"), 0.0, count=1000)
    with pytest.raises(VideoError):
        sample_frames(dead, ShotSampler(1.0))


def test_a_whole_webm_whose_demuxer_stops_at_damaged_bytes_says_so_not_silently_shorter(tmp_path):
    """A VP9 WebM (its segment whole) with 5,000 bytes in the middle of its one cluster overwritten: FFmpeg's demuxer
    stops there, half the frames unread. The row warns `decoding stopped at 2.0 s of the 4.0 s the file states
    (damaged: its data could not be read on after byte N)`. Was: taken for a header stating more than its frames
    (a whole file), 2 s long without a word. A whole file stating more than its frames still says nothing
    (test_odd_media::test_a_matroska_file_stating_ten_hours_that_holds_four_seconds_is_decoded_for_what_it_holds)."""
    path = tmp_path / "clip.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-c:v",
                    "libvpx-vp9", str(path)], check=True)
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 5000] = b"\xff" * 5000
    path.write_bytes(bytes(data))
    info, sampled = sample_frames(path, ShotSampler(1.0))
    assert len(list(sampled)) >= 2 and info.duration_s < 3.5
    assert info.warning.startswith("decoding stopped at ") and "s of the 4.0 s the file states (damaged: its data " \
        "could not be read on after byte " in info.warning
