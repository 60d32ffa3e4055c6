"""Odd but real media through the decoder: every file gives frames or a VideoError in words, never another
exception. The media are generated here with PyAV (small, a few seconds at most) into tmp_path."""

import contextlib
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from services.ingest import decoding
from services.ingest.decoding import DecodeOrder
from services.ingest.sampling import ShotSampler
from services.ingest.stream_digest import stream_digest
from services.ingest.video import VideoError, open_video, sample_frames
from tests.support.media import write_pixel_animation


def write_video(path, frames, fps=25, fmt=None, rotation=None, hflip=False):
    """Encodes `frames` (BGR uint8 arrays of one size) with H.264; `rotation`: counter-clockwise degrees a
    player turns them by (the display matrix a phone writes), then mirrors when `hflip`."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=hflip)
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")))
        out.mux(stream.encode())
    return path


def write_still(path, codec, fmt, pix_fmt):
    """One picture (JPEG, PNG or GIF) under the name `path`."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        frame = av.VideoFrame.from_ndarray(marked(48, 64), format="bgr24").reformat(format=pix_fmt)
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def marked(height, width, level=60):
    """A grey frame with a white block in its top-left corner: an orientation anyone can check."""
    image = np.full((height, width, 3), level, np.uint8)
    image[: height // 3, : width // 3] = 255
    return image


def decode(path, interval_s=1.0, **caps):
    info, frames = sample_frames(path, ShotSampler(interval_s), **caps)
    return info, list(frames)


def corner_is_white(image):
    h, w = image.shape[:2]
    corner, rest = image[: h // 3 - 2, : w // 3 - 2], image[h // 2:, w // 2:]
    return corner.mean() > 200 and rest.mean() < 100


@pytest.mark.parametrize("rotation", [90, 180, 270, -90])
def test_a_video_stored_sideways_is_sampled_upright(tmp_path, rotation):
    shown = marked(48, 80)
    stored = np.rot90(shown, -rotation // 90)
    path = write_video(tmp_path / "phone.mp4", [stored] * 30, rotation=rotation)
    info, frames = decode(path)
    assert (info.width, info.height) == (80, 48)
    assert frames and all(f.bgr.shape == (48, 80, 3) and corner_is_white(f.bgr) for f in frames)
    assert all(f.bgr.flags["C_CONTIGUOUS"] for f in frames)  # what cv2.imencode needs


def test_a_mirrored_and_turned_video_is_sampled_as_a_player_shows_it(tmp_path):
    shown = marked(48, 80)
    stored = np.rot90(shown[:, ::-1], -1)  # shown = hflip(rotate 90 ccw(stored))
    path = write_video(tmp_path / "selfie.mp4", [stored] * 10, rotation=90, hflip=True)
    _, frames = decode(path)
    assert all(corner_is_white(f.bgr) for f in frames)


def test_a_real_video_turned_sideways_comes_back_as_it_was(tmp_path, corpus):
    fps = 30  # v0009: 1280x720 at 30 fps
    with av.open(str(corpus("smoke") / "videos" / "v0009.mp4")) as source:
        original = [f.to_ndarray(format="bgr24") for _, f in zip(range(40), source.decode(video=0), strict=False)]
    sideways = write_video(tmp_path / "sideways.mp4", [np.rot90(im, -1) for im in original], fps=fps, rotation=90)
    info, got = decode(sideways)
    assert (info.width, info.height) == (1280, 720)
    assert len(got) >= 2
    for frame in got:
        want = original[round(frame.timestamp_s * fps)]
        assert frame.bgr.shape == want.shape == (720, 1280, 3)
        error = np.abs(frame.bgr.astype(np.int16) - want).mean()
        assert error < 4.0  # the same picture, up to the encoder's rounding
        assert error < np.abs(frame.bgr[::-1, ::-1].astype(np.int16) - want).mean() / 4  # and not turned over


def test_a_strobing_video_is_sampled_about_once_a_second_not_once_a_frame(tmp_path):
    black, white = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    path = write_video(tmp_path / "strobe.mp4", [(black, white)[k % 2] for k in range(250)])
    info, frames = decode(path)
    assert 8 <= len(frames) <= 15
    assert frames[-1].timestamp_s >= 8.5
    assert info.duration_s == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize("fps", [1, Fraction(1, 2)])
def test_a_slideshow_of_one_frame_a_second_or_fewer_is_sampled_at_every_frame_b_frames_too(tmp_path, fps):
    """A slideshow or time-lapse encoded at its own low rate, with B-frames (x264's default): the decoder skipped
    the frames no other refers to, each a second or more of the video, so that a 1 fps video of 10 pictures gave 7
    samples (at 0, 1, 3, 4, 6, 7 and 9 s), whatever was on screen at 2, 5 and 8 s never seen."""
    path = tmp_path / "slides.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.options = {"x264-params": "bframes=2:b-adapt=0:scenecut=0"}
        for k in range(10):
            image = np.full((96, 128, 3), 60, np.uint8)
            image[10:40, 5 + k * 10: 25 + k * 10] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    info, frames = decode(path)
    assert [f.timestamp_s for f in frames] == pytest.approx([k / float(fps) for k in range(10)])
    assert [f.index for f in frames] == list(range(10))


def moving(height, width, count, shift=0):
    """`count` frames of a block sliding right: content that changes but has no cut."""
    frames = []
    for k in range(count):
        image = np.full((height, width, 3), 50, np.uint8)
        x = (k * 2 + shift) % (width - 16)
        image[8:24, x: x + 16] = 220
        frames.append(image)
    return frames


def test_a_stream_without_a_duration_fails_once_decoded_time_passes_the_cap(tmp_path):
    path = write_video(tmp_path / "raw.h264", moving(48, 64, 125), fmt="h264")  # 5 s, no duration stated
    with av.open(str(path)) as probe:
        assert probe.duration is None
    with pytest.raises(VideoError, match="longer than the limit of 3 s"):
        decode(path, max_seconds=3.0)


def test_a_stream_without_a_duration_under_the_cap_reports_its_decoded_duration(tmp_path):
    path = write_video(tmp_path / "raw.h264", moving(48, 64, 125), fmt="h264")
    info, frames = decode(path, max_seconds=60.0)
    assert info.duration_s == pytest.approx(5.0, abs=0.3)
    times = [f.timestamp_s for f in frames]
    assert 5 <= len(times) <= 6 and times == sorted(times) and 4.0 <= times[-1] <= 5.0


@pytest.mark.parametrize(("codec", "name"), [("libx264", "raw.h264"), ("libx265", "raw.hevc")])
def test_a_raw_stream_is_timed_at_the_rate_its_bitstream_states_not_the_demuxers_assumed_25(tmp_path, codec, name):
    """A raw stream holds no timestamps and FFmpeg's demuxer assumes 25 fps, where the encoder wrote 30 in the
    stream (H.264's VUI, HEVC's VPS): 90 frames are 3 s. Before, 3.6 s, every later moment 20% late."""
    path = tmp_path / name
    with av.open(str(path), "w", format=name.split(".")[1]) as out:
        stream = out.add_stream(codec, rate=30, options={"x265-params": "log-level=error"} if "265" in codec else {})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in moving(48, 64, 90):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    info, frames = decode(path, max_seconds=60.0)
    assert info.fps == pytest.approx(30.0) and info.duration_s == pytest.approx(3.0, abs=0.05)
    assert 2.0 <= frames[-1].timestamp_s < 3.0


def test_a_container_that_states_a_short_duration_is_still_capped_by_decoded_time(tmp_path):
    # Two joined mpegts segments: the container states the first one's length only.
    first = write_video(tmp_path / "a.ts", moving(48, 64, 75), fmt="mpegts")
    second = write_video(tmp_path / "b.ts", moving(48, 64, 75, shift=7), fmt="mpegts")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with pytest.raises(VideoError, match="longer than the limit"):
        decode(joined, max_seconds=4.0)


def test_joined_segments_of_two_sizes_are_all_sampled_each_at_its_own_size(tmp_path):
    first = write_video(tmp_path / "a.ts", moving(240, 320, 50), fmt="mpegts")
    second = write_video(tmp_path / "b.ts", moving(360, 640, 50), fmt="mpegts")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    info, frames = decode(joined, interval_s=0.5)
    sizes = [f.bgr.shape[:2] for f in frames]
    assert (info.width, info.height) == (320, 240)
    assert sizes[0] == (240, 320) and sizes[-1] == (360, 640)
    times = [f.timestamp_s for f in frames]
    assert times == sorted(times) and times[-1] >= 3.0  # the second segment's restarted clock follows on
    change = sizes.index((360, 640))
    assert frames[change].shot != frames[change - 1].shot  # tracking never spans two sizes


@pytest.mark.parametrize(("height", "width", "caps", "message"), [
    (24, 32, {}, "unsupported resolution 32x24"),
    (360, 640, {"max_pixels": 320 * 240}, "unsupported resolution 640x360"),
])
def test_the_resolution_caps_hold_after_a_mid_stream_change(tmp_path, height, width, caps, message):
    first = write_video(tmp_path / "a.ts", moving(240, 320, 50), fmt="mpegts")
    second = write_video(tmp_path / "b.ts", moving(height, width, 50), fmt="mpegts")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with pytest.raises(VideoError, match=message):
        decode(joined, **caps)


@pytest.mark.parametrize(("codec", "fmt", "pix_fmt"), [
    ("mjpeg", "image2pipe", "yuvj420p"), ("png", "image2pipe", "rgb24"), ("gif", "gif", "rgb8")])
def test_a_still_image_named_mp4_is_not_a_video(tmp_path, codec, fmt, pix_fmt):
    path = write_still(tmp_path / f"photo_{codec}.mp4", codec, fmt, pix_fmt)
    with pytest.raises(VideoError, match="not a video"):
        decode(path)


@pytest.mark.parametrize(("codec", "fmt", "pix_fmt"), [("gif", "gif", "rgb8"), ("apng", "apng", "rgb24")])
def test_an_animated_gif_or_apng_is_sampled_as_a_short_video(tmp_path, codec, fmt, pix_fmt):
    """An animation (a social post as often as a video) is read as one: 3 s at 10 frames a second give a
    sample a second, upright, with their times; its one-frame form is a still (the test above)."""
    path = tmp_path / f"post.{fmt}"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for k in range(30):
            image = marked(48, 64, level=40 + k)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format=pix_fmt)))
        out.mux(stream.encode())
    info, frames = decode(path)
    assert (info.width, info.height) == (64, 48) and info.duration_s == pytest.approx(3.0, abs=0.1)
    assert [round(f.timestamp_s) for f in frames] == [0, 1, 2]
    assert all(corner_is_white(f.bgr) for f in frames)


@pytest.mark.parametrize(("frames", "message"), [
    (5, r"^not a readable video \(an animated WebP, which the decoder cannot read: give it as MP4 or GIF\)$"),
    (1, r"^not a video \(an image file: webp_pipe\)$")])
def test_an_animated_webp_is_named_as_an_animation_the_decoder_cannot_read_not_an_image(tmp_path, frames, message):
    """FFmpeg decodes no animated WebP, and its demuxer takes one for a still: the row said 'not a video (an image
    file: webp_pipe)' of a social post's animation."""
    from PIL import Image

    images = [Image.fromarray(marked(48, 64, level=40 + 30 * k)) for k in range(frames)]
    path = tmp_path / "post.webp"
    images[0].save(path, format="WEBP", save_all=frames > 1, append_images=images[1:], duration=100)
    with pytest.raises(VideoError, match=message):
        decode(path)


@pytest.mark.parametrize("canvas", [30_000, 65_535])
def test_an_animation_whose_canvas_is_absurdly_large_is_refused_before_any_frame_is_drawn(tmp_path, canvas):
    """A GIF's header states its canvas, which the decoder would allocate whole (30000² is 3.6 GB): FFmpeg
    refuses the size, and the row says so instead of "unsupported resolution 0x0"."""
    import io
    import struct

    from PIL import Image

    frames = [Image.fromarray(marked(48, 64, level=40 + k)) for k in range(5)]
    data = io.BytesIO()
    frames[0].save(data, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = bytearray(data.getvalue())
    gif[6:10] = struct.pack("<HH", canvas, canvas)  # the logical screen's width and height
    path = tmp_path / "bomb.gif"
    path.write_bytes(bytes(gif))
    with pytest.raises(VideoError, match=r"^not a readable video \(no valid frame size: too large or damaged\)$"):
        decode(path)


def test_an_rgb_frame_s_thumbnail_reads_one_pixel_a_cell_not_the_whole_frame():
    """GIF and APNG frames are RGB, not 8-bit luma: each frame's thumbnail was the whole 4096x4096 canvas scaled
    down with smoothing (20 ms a frame, several times the decoder's own work), so a 700 kB GIF of one-pixel frames
    kept a worker busy for 20 minutes inside the 600 s cap. The thumbnail now reads one pixel a cell, as it does
    for video: stripes one pixel wide stay black or white, where a smoothing scaler averages them to grey. (The
    time it costs beside the decoder's own is a figure of `bench/odd_media.py`.)"""
    from services.ingest.video import _luma_thumb

    stripes = np.zeros((960, 960, 3), np.uint8)
    stripes[:, ::2] = 255
    thumb = _luma_thumb(av.VideoFrame.from_ndarray(stripes, format="rgb24"))
    assert thumb.shape == (48, 48)
    assert ((thumb < 30) | (thumb > 225)).all(), sorted(set(thumb.ravel().tolist()))


def test_a_large_animation_is_sampled_at_its_canvas_size(tmp_path):
    path = write_pixel_animation(tmp_path / "canvas.gif", 4096, 150)
    info, frames = decode(path)
    assert (info.width, info.height, len(frames)) == (4096, 4096, 3)


def test_each_decoded_frame_is_freed_once_passed_not_by_the_garbage_collector(tmp_path):
    """Reading a frame's display matrix through `frame.side_data` tied the frame and its side data in a cycle, so
    every sampled frame's pixels stayed in memory until the garbage collector ran, which a decoding loop seldom
    makes it do: a 34 kB GIF of 1,500 one-pixel frames on a 4096x4096 canvas (30 samples) took 2.2 GB."""
    import gc

    path = write_pixel_animation(tmp_path / "canvas.gif", 256, 100, delay_cs=10)
    gc.collect()
    gc.disable()
    try:
        _, frames = sample_frames(path, ShotSampler(1.0))
        alive = [sum(isinstance(o, av.VideoFrame) for o in gc.get_objects()) for _ in frames]
    finally:
        gc.enable()
    assert len(alive) == 10 and max(alive) <= alive[0], alive  # none more alive than at the first sample


def test_an_apng_the_decoder_cannot_take_is_refused_in_words_without_an_errno_or_a_path(tmp_path):
    """An APNG whose first frame is larger than its canvas meets FFmpeg's "not yet implemented" error; the row read
    'cannot decode (PatchWelcomeError: [Errno 1163346256] Not yet implemented in FFmpeg, patches welcome: '/path')',
    the path being the download's scratch file when the row is a URL."""
    import struct
    import zlib

    path = tmp_path / "post.apng"
    with av.open(str(path), "w", format="apng") as out:
        stream = out.add_stream("apng", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        for k in range(5):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(marked(48, 64, level=40 + k), format="bgr24")))
        out.mux(stream.encode())
    data = bytearray(path.read_bytes())
    at = data.index(b"fcTL") - 4  # the first frame's control chunk: length, type, sequence number, width, height
    data[at + 12: at + 20] = struct.pack(">II", 30_000, 30_000)
    data[at + 34: at + 38] = struct.pack(">I", zlib.crc32(bytes(data[at + 4: at + 34])))
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=r"^cannot decode \(a feature the decoder does not implement\)$"):
        decode(path)


def test_a_single_frame_video_is_not_a_video(tmp_path):
    path = write_video(tmp_path / "one.mp4", [marked(48, 64)])
    with pytest.raises(VideoError, match="not a video"):
        decode(path)


def test_an_audio_file_has_no_video_stream(tmp_path):
    path = tmp_path / "song.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for k in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, k * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with pytest.raises(VideoError, match="no video stream"):
        decode(path)


def test_a_video_stream_without_frames_is_a_clear_error(tmp_path):
    path = tmp_path / "empty_stream.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    with pytest.raises(VideoError):
        decode(path)


def write_jumping(path, jump_ms, start_ms=0, options=None):
    """4 s of video at 25 fps whose timestamps start at `start_ms` and jump ahead by `jump_ms` halfway through
    (ms); `options` of the muxer."""
    with av.open(str(path), "w", options=options or {}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k, image in enumerate(moving(48, 64, 100)):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = start_ms + k * 40 + (jump_ms if k >= 50 else 0), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_a_container_whose_timestamps_claim_years_is_refused_by_its_stated_duration(tmp_path):
    with pytest.raises(VideoError, match="longer than the limit of 60 s"):
        decode(write_jumping(tmp_path / "years.mkv", 10**11), max_seconds=60.0)


def test_a_matroska_recording_whose_clock_starts_at_ten_hours_is_as_long_as_its_frames(tmp_path):
    """Matroska states its end time as its duration (FFmpeg's muxer writes it so): a recording whose timestamps
    start at 10:00:00 (kept from a live capture) states 10 hours and 4 s."""
    info, frames = decode(write_jumping(tmp_path / "late.mkv", 0, start_ms=36_000_000), max_seconds=60.0)
    _, on_time = decode(write_jumping(tmp_path / "on_time.mkv", 0), max_seconds=60.0)
    assert info.warning == "" and info.duration_s == pytest.approx(4.0, abs=0.1)
    assert [f.timestamp_s for f in frames] == [f.timestamp_s for f in on_time]


@pytest.mark.parametrize(("name", "options"), [("jump.ts", None), ("live.mkv", {"live": "1"})])
def test_a_timestamp_jump_inside_the_cap_is_a_discontinuity_not_a_pause(tmp_path, name, options):
    """Where no muxer states the length the timestamps fill (a transport stream, a live Matroska recording that
    states none), a jump of 30 s is joined segments or damage, not a still held."""
    info, frames = decode(write_jumping(tmp_path / name, 30_000, options=options), max_seconds=60.0)
    times = [f.timestamp_s for f in frames]
    assert times == sorted(times) and 3.5 <= times[-1] <= 4.5  # 4 s of frames, not 34 s


def test_damaged_bytes_anywhere_give_frames_or_a_video_error_never_another_exception(tmp_path):
    clean = write_video(tmp_path / "clean.mp4", moving(48, 64, 50)).read_bytes()
    rng = np.random.default_rng(12)
    outcomes = set()
    for k in range(40):
        data = bytearray(clean)
        for at in rng.integers(0, len(data), size=int(rng.integers(1, 30))):
            data[at] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged_{k}.mp4"
        path.write_bytes(bytes(data))
        try:
            _, frames = decode(path)
            outcomes.add("frames" if frames else "none")
        except VideoError as exc:
            assert str(exc)
            outcomes.add("error")
    assert "error" in outcomes or "frames" in outcomes


def write_faststart_mp4(path, seconds, fps=25, size=64):
    """An MP4 with its index (moov) in front, as web video is: cut anywhere, its header still states the
    whole length."""
    rng = np.random.default_rng(5)
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(int(seconds * fps)):
            image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    return path


def test_a_file_cut_in_half_reports_the_decoded_duration_with_a_warning(tmp_path):
    whole = write_faststart_mp4(tmp_path / "whole.mp4", seconds=6)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    info, frames = decode(cut)
    assert frames, "what was decoded before the cut still counts"
    assert 2.0 <= info.duration_s <= 4.0, info.duration_s
    assert info.duration_s >= frames[-1].timestamp_s
    assert info.warning.startswith("decoding stopped at ") and "of the 6.0 s the file states" in info.warning


def test_a_whole_file_keeps_its_stated_duration_and_no_warning(tmp_path):
    info, _ = decode(write_faststart_mp4(tmp_path / "whole.mp4", seconds=6))
    assert (info.duration_s, info.warning) == (6.0, "")


@pytest.mark.parametrize("keep", ["before_moov", "half"])
def test_an_mp4_cut_before_its_index_is_named_as_incomplete_not_as_invalid_data(tmp_path, keep):
    whole = write_video(tmp_path / "whole.mp4", moving(48, 64, 50)).read_bytes()  # the moov box at the end
    end = whole.rfind(b"moov") - 4 if keep == "before_moov" else len(whole) // 2
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[:end])
    with pytest.raises(VideoError) as err:
        decode(cut)
    assert str(err.value) == ("not a readable video (an MP4 without its index, the moov box: the file is incomplete, "
                              "cut short while it was copied, uploaded or downloaded?)")


def playlists(folder, target):
    """Text files that FFmpeg reads as lists of other files or addresses, each naming `target` (a video
    elsewhere, or beside them); the file's name is what a manifest row or a download gives."""
    relative = target.relative_to(folder) if target.is_relative_to(folder) else target
    hls = (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{target}\n"
           "#EXT-X-ENDLIST\n")
    sdp = "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 5004 RTP/AVP 96\n"
    return {"clip.m3u8": hls, "clip.ffconcat": f"ffconcat version 1.0\nfile {relative}\n",
            "clip.mp4": f"ffconcat version 1.0\nfile {relative}\n", "clip.sdp": sdp}


@pytest.mark.parametrize("name", ["clip.m3u8", "clip.ffconcat", "clip.mp4", "clip.sdp"])
def test_a_playlist_naming_other_files_is_refused_and_the_files_it_names_are_never_read(tmp_path, name):
    elsewhere = tmp_path / "private"
    elsewhere.mkdir()
    private = write_video(elsewhere / "private.ts", [marked(48, 64)] * 30, fmt="mpegts")
    beside = write_video(tmp_path / "beside.ts", [marked(48, 64)] * 30, fmt="mpegts")
    target = private if name.endswith(".m3u8") else beside  # concat lists name safe relative paths alone
    path = tmp_path / name
    path.write_text(playlists(tmp_path, target)[name])
    with pytest.raises(VideoError, match=r"^not a video \(.*(playlist|list of other files|session description)"
                                         r".*never read.*give the video file itself"):
        decode(path)
    assert stream_digest(path) is None


def test_a_text_file_is_no_video_of_its_characters(tmp_path):
    path = tmp_path / "notes.nfo"  # FFmpeg draws .nfo, .ans and .txt files as pictures of their text
    path.write_text("my notes, not a video\n" * 2000)
    with pytest.raises(VideoError, match=r"^not a video \(a text file\)"):
        decode(path)


def write_with_picture_track_first(path, frames, picture_frames=1):
    """A Matroska file whose first video track is a small picture of another scene (cover art as a track, as
    a muxer writes it: `picture_frames` MJPEG frames at 1 fps, no cover flag), then the video of `frames`."""
    with av.open(str(path), "w", format="matroska") as out:
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        video = out.add_stream("libx264", rate=25)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        for k in range(picture_frames):
            picture = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="bgr24")
            picture = picture.reformat(format="yuvj420p")
            picture.pts = k
            out.mux(cover.encode(picture))
        out.mux(cover.encode())
        for image in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")))
        out.mux(video.encode())
    return path


@pytest.mark.parametrize("picture_frames", [1, 2])
def test_a_picture_track_before_the_video_is_passed_over_for_the_video(tmp_path, picture_frames):
    frames = [marked(48, 80)] * 75
    path = write_with_picture_track_first(tmp_path / "covered.mkv", frames, picture_frames)
    info, sampled = decode(path)
    assert (info.width, info.height, info.codec, info.warning) == (80, 48, "h264", "")
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert len(sampled) >= 3 and all(corner_is_white(f.bgr) for f in sampled)
    # The same coded video without the picture track (a remux: encoding the frames again is not bit-exact on a
    # loaded machine, x264's threads deciding differently)
    alone = tmp_path / "alone.mkv"
    with av.open(str(path)) as source, av.open(str(alone), "w", format="matroska") as out:
        (video,) = [s for s in source.streams.video if s.codec_context.name == "h264"]
        copy = out.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.size:  # not the demuxer's flush packet
                packet.stream = copy
                out.mux(packet)
    assert stream_digest(path) == stream_digest(alone)  # the video's digest, not the picture's


@pytest.mark.parametrize(("stored", "aspect"), [((96, 80), Fraction(2)), ((48, 160), Fraction(1, 2)),
                                                 ((96, 120), Fraction(4, 3))])
def test_an_anamorphic_video_is_sampled_at_the_shape_a_player_shows_not_squeezed(tmp_path, stored, aspect):
    """Stored pixels that are not square (DV, HDV, broadcast 1440x1080, a squeezed export): a face in them is
    squeezed or stretched until the pixels are shown at their aspect ratio (SAR), as a player does."""
    height, width = stored
    shown = marked(96, 160)
    squeezed = av.VideoFrame.from_ndarray(shown, format="bgr24").reformat(width=width, height=height).to_ndarray()
    path = tmp_path / "anamorphic.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.sample_aspect_ratio = aspect
        for _ in range(30):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(squeezed, format="bgr24")))
        out.mux(stream.encode())
    info, frames = decode(path)
    assert (info.width, info.height) == (160, 96)
    assert frames and all(f.bgr.shape == (96, 160, 3) and corner_is_white(f.bgr) for f in frames)


def test_a_file_named_like_an_image_sequence_is_read_alone_not_its_neighbours(tmp_path):
    """FFmpeg reads `img%03d.jpg` as the pattern of img001.jpg, img002.jpg, ... beside it: a row names one file."""
    named = write_still(tmp_path / "img%03d.jpg", "mjpeg", "image2pipe", "yuvj420p")
    for k in (1, 2, 3):
        write_still(tmp_path / f"img{k:03d}.jpg", "png", "image2pipe", "rgb24")  # other pictures
    alone = tmp_path / "alone.jpg"
    alone.write_bytes(named.read_bytes())
    with pytest.raises(VideoError, match="an image file"):
        decode(named)
    assert stream_digest(named) == stream_digest(alone)


@pytest.mark.parametrize("fmt", ["mp4", "mov", "mkv", "webm"])
def test_a_still_held_for_half_a_minute_in_a_variable_rate_mp4_keeps_its_place_in_time(tmp_path, fmt):
    """A screen recording or slideshow stores no frame while nothing moves: an MP4's index gives each frame its
    time, as Matroska/WebM's blocks do, and a pause of 30 s is one a player shows, not joined segments (in
    Matroska and WebM it was: the timeline 30 s short, and a warning that the file was cut short)."""
    path = tmp_path / f"held.{fmt}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx-vp9" if fmt == "webm" else "libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k, image in enumerate(moving(48, 64, 100)):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = k * 40 + (30_000 if k >= 50 else 0), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    info, frames = decode(path, max_seconds=60.0)
    assert info.warning == "" and info.duration_s == pytest.approx(34.0, abs=0.1)
    assert frames[-1].timestamp_s > 33.0 and max(f.span_s for f in frames) > 25.0  # the still shown for 30 s


def jpeg_packets(frames):
    """`frames` (BGR, one size) encoded as MJPEG packets: each frame a picture of its own, at its own size."""
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.height, ctx.width = frames[0].shape[:2]
    ctx.pix_fmt, ctx.time_base = "yuvj420p", Fraction(1, 1000)
    packets = []
    for image in frames:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24").reformat(format="yuvj420p")
        packets += ctx.encode(frame)
    return packets + ctx.encode(None)


def test_sampled_frames_sharing_a_timestamp_share_its_span_and_none_is_on_screen_for_no_time(tmp_path):
    """Two segments joined where the second starts at the first's last time (Matroska allows equal times): the
    first's last frame (a flash, a cut) and the second's first (another size, a cut) are both sampled at 2.0 s.
    Before, the first got a span of 0: a face seen in it had no time on screen."""
    path = tmp_path / "joined.mkv"
    first = moving(48, 320, 50) + [np.full((48, 320, 3), 255, np.uint8)]  # 0.00 .. 2.00 s, a flash at 2.00
    second = moving(96, 96, 50)  # 2.00 .. 3.96 s
    times_ms = [k * 40 for k in range(51)] + [2000 + k * 40 for k in range(50)]
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 48, "yuvj420p"
        for t, packet in zip(times_ms, jpeg_packets(first) + jpeg_packets(second), strict=True):
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, t, t, Fraction(1, 1000)
            out.mux(packet)
    info, frames = decode(path, max_seconds=60.0)
    at_two = [f for f in frames if f.timestamp_s == 2.0]
    assert [f.bgr.shape[:2] for f in at_two] == [(48, 320), (96, 96)]
    assert [f.span_s for f in at_two] == pytest.approx([1.0, 1.0])  # each stands for 2.0 .. 3.0 s
    assert min(f.span_s for f in frames) > 0 and info.duration_s == pytest.approx(4.0)



def test_a_video_whose_timestamps_are_all_equal_is_sampled_over_its_frames_not_at_one_instant(tmp_path):
    """Damaged timestamps (a broken muxer or remux writes every frame at 0): 4 s of frames are 4 s of video.
    Before, every frame was at 0 s: one sample, a duration of 0.04 s, and the faces of all but the first
    frame lost from a video reported done."""
    path = tmp_path / "all_at_zero.mkv"
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for packet in jpeg_packets(moving(48, 64, 100)):
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, 0, 0, Fraction(1, 1000)
            out.mux(packet)
    info, frames = decode(path, max_seconds=60.0)
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert len(frames) >= 4 and frames[-1].timestamp_s >= 3.0


def test_a_matroska_file_stating_ten_hours_that_holds_four_seconds_is_decoded_for_what_it_holds(tmp_path):
    """A header that lies, or a recording cut short after its header was written: its end, read after a seek to
    the stated end, is at 4 s. Before, `36000 s is longer than the limit of 60 s` refused 4 s of video. Its segment
    ends where the file does, so the header lies: no warning (was: `... (the file is cut short)`)."""
    path = write_jumping(tmp_path / "claims.mkv", 0)
    data = path.read_bytes()
    at = data.index(b"\x44\x89\x88") + 3  # the Segment's Duration, an 8-byte float in ms
    path.write_bytes(data[:at] + struct.pack(">d", 36_000_000.0) + data[at + 8:])
    with av.open(str(path)) as probe:
        assert probe.duration == 36_000 * 1_000_000
    info, frames = decode(path, max_seconds=60.0)
    assert info.duration_s == pytest.approx(4.0, abs=0.1) and frames[-1].timestamp_s >= 3.0
    assert info.warning == ""



def flv_stating(path: Path, seconds: float, frames: int) -> Path:
    """An FLV of `frames` frames at 25 fps whose onMetaData states `seconds` (an 8-byte float after its name)."""
    data = bytearray(write_video(path, moving(96, 128, frames), fmt="flv").read_bytes())
    at = data.index(b"duration") + len(b"duration") + 1  # the AMF number's type byte, then the value
    struct.pack_into(">d", data, at, seconds)
    path.write_bytes(data)
    return path


def test_an_flv_stating_ten_hours_that_holds_four_seconds_is_decoded_for_what_it_holds(tmp_path):
    """FLV keeps no index: the seek to its stated end ran off the file and found no packet, and the stated
    length was believed: `36000 s is longer than the limit of 60 s` for 4 s of video. Its packets are read from
    the start instead, up to the limit."""
    info, frames = decode(flv_stating(tmp_path / "claims.flv", 36_000.0, 100), max_seconds=60.0)
    assert info.duration_s == pytest.approx(4.0, abs=0.1) and frames[-1].timestamp_s >= 3.0
    assert info.warning == "decoding stopped at 4.0 s of the 36000.0 s the file states (the file is cut short)"


def test_an_flv_stating_ten_hours_that_holds_more_than_the_limit_is_refused_by_its_stated_length(tmp_path):
    with pytest.raises(VideoError, match=r"^36000 s is longer than the limit of 3 s$"):
        decode(flv_stating(tmp_path / "long.flv", 36_000.0, 200), max_seconds=3.0)

def test_frames_the_decoder_had_to_fill_in_are_counted_in_a_warning(tmp_path):
    """Damaged bytes inside a frame (a bad copy, a flaky card) are papered over by the decoder, its picture
    smeared: the row is done, and says how many frames were damaged. Before, nothing said so: a copy of a
    smoke video with 200 flipped bytes had 113 of 180 frames damaged, no face found, and no warning."""
    noise = np.random.default_rng(0)
    path = tmp_path / "damaged.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"bf": "0"})  # frame 10 is one the decoder decodes
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        images = [noise.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(50)]
        packets = [p for image in images for p in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24"))]
        for n, packet in enumerate(packets + list(stream.encode())):
            if n == 10:  # the second half of a frame's bytes flipped
                data = bytearray(bytes(packet))
                data[len(data) // 2::7] = bytes(b ^ 0x5A for b in data[len(data) // 2::7])
                damaged = av.Packet(bytes(data))
                damaged.stream, damaged.pts, damaged.dts = packet.stream, packet.pts, packet.dts
                damaged.time_base = packet.time_base
                packet = damaged
            out.mux(packet)
    info, frames = decode(path)
    assert info.duration_s == pytest.approx(2.0) and frames
    assert info.warning == ("1 of 50 frames damaged (the decoder filled in what it could not read: faces in them "
                            "may be missed)")



def video_streams(path: Path, count: int) -> Path:
    """A Matroska file of `count` video streams, each 1 s of 64 x 48."""
    with av.open(str(path), "w") as out:
        streams = [out.add_stream("libx264", rate=25) for _ in range(count)]
        for stream in streams:
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in moving(48, 64, 25):
            for stream in streams:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        for stream in streams:
            out.mux(stream.encode())
    return path


@pytest.mark.parametrize(("count", "refused"), [(16, False), (17, True)])
def test_a_file_of_more_video_streams_than_a_video_has_is_refused_before_they_are_opened(tmp_path, count, refused):
    """Opening probes every stream with a decoder of its own holding a few frames: 50 copies of a 4K stream took
    1.4 GB, FFmpeg's limit of 1,000 would have taken 40 GB (in ingest's own process, for the digest). Before,
    every stream was opened; now more than 16 are refused, counted as the file is opened, every stream past the
    first 8 probed by a decoder that decodes nothing."""
    path = video_streams(tmp_path / "streams.mkv", count)
    if refused:
        with pytest.raises(VideoError, match=r"^not a video we read: 17 video streams \(a video has one"):
            decode(path)
        assert stream_digest(path) is None
    else:
        info, frames = decode(path)
        assert info.duration_s == pytest.approx(1.0) and frames


@pytest.mark.parametrize("fmt", ["mkv", "mp4"])
def test_a_file_of_a_thousand_video_streams_is_refused_from_its_header_before_any_stream_is_probed(tmp_path, fmt):
    """FFmpeg reads up to 1,000 streams: probing them, even by decoders that decode nothing, peaked at 765 MB (MKV)
    and 782 MB (MP4) before the file was refused, in ingest's own process too (the digest). They are counted in the
    file's header now, no decoder opened: 65 and 74 MB."""
    one = write_video(tmp_path / "one.mkv", moving(48, 64, 25))
    path = tmp_path / f"streams.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(one), *["-map", "0:v"] * 1000, "-c", "copy", str(path)],
                   check=True)
    refusal, grown_mb = refused_in_a_fresh_process(path)
    assert refusal.startswith("not a video we read: 1000 video streams (a video has one")
    assert int(grown_mb) < 200, f"refusing 1,000 streams grew the peak by {grown_mb} MB (was 765 MB, 70 MB now)"


def test_a_pipe_of_a_thousand_video_streams_is_refused_from_its_header_as_a_file_is(tmp_path):
    """A FIFO can be read once, so its streams were counted in the one opening that probes them all: 1,000 peaked at
    765 MB (22 s) before they were refused. It is copied to a file first now, and refused from that file's header:
    65 MB (1.5 s), as a file."""
    one = write_video(tmp_path / "one.mkv", moving(48, 64, 25))
    whole = tmp_path / "streams.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(one), *["-map", "0:v"] * 1000, "-c", "copy", str(whole)],
                   check=True)
    pipe = tmp_path / "pipe.mkv"
    os.mkfifo(pipe)
    script = ("import contextlib, re, sys, threading; from pathlib import Path\n"
              "from services.ingest.sampling import ShotSampler\n"
              "from services.ingest.video import VideoError, sample_frames\n"
              "peak = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024\n"
              "data, pipe = Path(sys.argv[1]).read_bytes(), Path(sys.argv[2])\n"
              "def feed():\n    with contextlib.suppress(BrokenPipeError):\n        pipe.write_bytes(data)\n"
              "threading.Thread(target=feed, daemon=True).start()\n"
              "before = peak()\n"
              "try:\n    sample_frames(pipe, ShotSampler(1.0))\nexcept VideoError as exc:\n    print(exc)\n"
              "print(peak() - before)")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", script, str(whole), str(pipe)], capture_output=True, text=True,
                         check=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    refusal, grown_mb = run.stdout.splitlines()
    assert refusal.startswith("not a video we read: 1000 video streams (a video has one")
    assert int(grown_mb) < 200, f"refusing a pipe of 1,000 streams grew the peak by {grown_mb} MB (was 765 MB)"


def test_a_pipe_of_more_video_streams_than_a_video_has_is_refused_too(tmp_path):
    """The streams are counted in the one opening that decodes: a pipe, which can be read once, holds the cap
    too. Before, they were counted in an opening of their own, which a pipe could not afford: all 17 were
    decoded."""
    whole = video_streams(tmp_path / "streams.mkv", 17).read_bytes()
    pipe = tmp_path / "pipe.mkv"
    os.mkfifo(pipe)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError):  # the reader stops once it has counted
            pipe.write_bytes(whole)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    with pytest.raises(VideoError, match=r"^not a video we read: 17 video streams \(a video has one"):
        decode(pipe)
    feeder.join(30)


def test_a_pipe_decoded_for_ingest_is_copied_to_its_scratch_folder_and_a_full_one_says_disk_full(tmp_path):
    """A decoder's copy of a pipe goes to ingest's scratch folder (DecodeOrder.scratch, under the data dir), kept
    INFLUENCERS_MIN_FREE_BYTES from full: a full one is "disk full", which stalls the job until there is room, as a
    download's and the frame spool's do. Was: the system's temporary folder, whatever the data dir."""
    whole = write_video(tmp_path / "one.mkv", moving(48, 64, 50)).read_bytes()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for k, min_free in enumerate((0, 1 << 60)):
        pipe = tmp_path / f"pipe{k}.mkv"
        os.mkfifo(pipe)

        def feed(pipe: Path = pipe) -> None:
            with contextlib.suppress(BrokenPipeError):
                pipe.write_bytes(whole)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        order = DecodeOrder("v1", pipe, 1.0, 600.0, scratch, 32 << 20, min_free, prints=False)
        if min_free:
            with pytest.raises(VideoError, match=rf"^disk full: the disk of {scratch} has [\d.]+ MiB free"):
                decoding.decode(order)
            reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # the writer let go, if the copy never began
            feeder.join(10)
            os.close(reader)
        else:
            decoded = decoding.decode(order)
            assert decoded.info.duration_s == pytest.approx(2.0, abs=0.05) and len(decoded.frames) >= 2
            assert not decoded.frames.path  # 32 MiB held in memory: the scratch folder holds nothing of it
        feeder.join(10)
        assert not feeder.is_alive()
        assert list(scratch.iterdir()) == []


def test_an_mpeg_program_stream_whose_streams_are_found_only_while_probing_is_read_as_any_video(tmp_path):
    """A DVD-era .mpg names no stream before it is probed, so no option can reach its probing decoders: it is
    opened with every stream probed whole, its video streams counted after, as for any file."""
    info, frames = decode(write_video(tmp_path / "old.mpg", moving(48, 64, 50), fmt="mpeg"))
    assert info.duration_s == pytest.approx(2.0, abs=0.1) and len(frames) >= 2


def test_a_video_cut_short_after_its_first_frame_is_named_as_cut_short_not_as_a_still(tmp_path):
    """A Matroska file stating 4 s, cut where its second frame begins (a download that stopped): one frame is
    decoded. Before, `not a video (a single still frame)`, as for a photo; a one-frame file stays one."""
    whole = tmp_path / "whole.mkv"
    with av.open(str(whole), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in moving(48, 64, 100):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    with av.open(str(whole)) as probe:
        second = [p.pos for p in probe.demux(video=0)][1]
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[:second])
    with pytest.raises(VideoError, match=r"^not a readable video \(one frame of the 4\.0 s the file states: the file "
                                         r"is cut short\)$"):
        decode(cut)
    with pytest.raises(VideoError, match=r"^not a video \(a single still frame\)$"):
        decode(write_video(tmp_path / "one.mkv", moving(48, 64, 1)))


def write_png_bomb(path, side):
    """A grey PNG of `side` x `side` px, all black: a few hundred KB that decode to `side`² bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte, then the row
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_a_png_bomb_named_mp4_is_refused_without_decoding_its_pixels(tmp_path):
    """16000x16000 grey px in 250 KB: probing the file and digesting its first frame decoded it whole (256 MB; a
    65535² one, 4 GB) in ingest's own process. No frame over the decoder's cap is decoded to probe a file now."""
    path = write_png_bomb(tmp_path / "clip.mp4", 16_000)
    script = ("import re, sys; from pathlib import Path\n"
              "from services.ingest.stream_digest import stream_digest\n"
              "from services.ingest.video import VideoError, open_video\n"
              "peak = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024\n"
              "before = peak()\n"
              "stream_digest(Path(sys.argv[1]))\n"
              "try:\n    open_video(Path(sys.argv[1]))\nexcept VideoError as exc:\n    print(exc)\n"
              "print(peak() - before)")
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    refusal, grown_mb = run.stdout.splitlines()
    assert refusal == "not a video (an image file: png_pipe)"
    assert int(grown_mb) < 100, grown_mb


def test_a_matroska_file_cut_before_its_first_frame_is_named_as_cut_short(tmp_path):
    """Its header and track are whole, its first cluster (of frames) is gone: a download that stopped early.
    Before, `not a readable video (End of file)`."""
    data = write_video(tmp_path / "whole.mkv", moving(48, 64, 25)).read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:data.index(bytes.fromhex("1F43B675"))])  # up to the first Cluster element
    with pytest.raises(VideoError, match=r"^not a readable video \(the file ends before its first frame: cut short "):
        decode(cut)


@pytest.mark.parametrize(("height", "width", "caps", "message"), [
    (16, 24, {}, "unsupported resolution 24x16 (under 32 px a side: too small to hold a face)"),
    (96, 128, {"max_pixels": 64 * 64}, "unsupported resolution 128x96 (over 4,096 pixels, 64x64: give a smaller copy, "
                                       "4K at most)"),
])
def test_a_resolution_out_of_bounds_is_refused_naming_the_bound(tmp_path, height, width, caps, message):
    """An 8K video (7680x4320) was `unsupported resolution 7680x4320`, naming no limit to meet."""
    with pytest.raises(VideoError) as refused:
        decode(write_video(tmp_path / "clip.mp4", moving(height, width, 10)), **caps)
    assert str(refused.value) == message


def write_gif(path: Path, frames: int) -> Path:
    """An animated GIF of `frames` moving 64x48 frames at 10 fps, whole (its end marker written)."""
    with av.open(str(path), "w", format="gif") as out:
        stream = out.add_stream("gif", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb8"
        for image in moving(48, 64, frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="rgb8")))
        out.mux(stream.encode())
    return path


def test_an_animated_gif_cut_short_is_done_with_a_warning(tmp_path):
    """A GIF states no length: one cut in half (a download that stopped) lacks only its end marker. Before, its
    first half was analysed as if whole, with no word of the rest."""
    whole = tmp_path / "whole.gif"
    write_gif(whole, 50)
    cut = tmp_path / "cut.gif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    info, frames = decode(cut)
    assert frames and info.warning.startswith("decoding stopped at ")
    assert info.warning.endswith(" s (the file is cut short: it lacks its end marker)")
    assert decode(whole)[0].warning == ""


@pytest.mark.parametrize("tail", [b"\x00" * 300, b"\x3b\x00", b"appended by an uploader"],
                         ids=["zeros", "a-second-marker", "text"])
def test_an_animated_gif_with_bytes_after_its_end_marker_is_whole_and_gets_no_warning(tmp_path, tail):
    """A GIF's end is its marker, not its last byte: a whole GIF padded or followed by other bytes got the warning
    of one cut short ('it lacks its end marker'); a GIF cut short and then padded still gets it."""
    whole = tmp_path / "whole.gif"
    write_gif(whole, 20)
    padded = tmp_path / "padded.gif"
    padded.write_bytes(whole.read_bytes() + tail)
    info, frames = decode(padded)
    assert len(frames) >= 2 and info.warning == ""
    cut_then_padded = tmp_path / "cut.gif"
    cut_then_padded.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2] + b"\x00" * 300)
    assert decode(cut_then_padded)[0].warning.endswith("(the file is cut short: it lacks its end marker)")


@pytest.mark.parametrize("faststart", [False, True])
def test_an_mp4_cut_inside_its_index_or_before_its_first_frames_bytes_is_named_as_cut_short(tmp_path, faststart):
    # The index last (as phones write it), cut 300 bytes before its end: was `not a readable video (invalid data)`.
    # The index first (a "faststart" MP4), cut before the first frame's bytes: was `no decodable frames`.
    whole = tmp_path / "whole.mp4"
    write_video(whole, moving(48, 64, 50))
    if faststart:
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(whole), "-c", "copy", "-movflags", "faststart",
                        str(tmp_path / "fast.mp4")], check=True)
        data = (tmp_path / "fast.mp4").read_bytes()
        data = data[:data.find(b"mdat") + 40]
    else:
        data = whole.read_bytes()[:-300]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data)
    with pytest.raises(VideoError) as err:
        decode(cut)
    assert str(err.value) == (
        "not a readable video (the file ends before its first frame: cut short while it was copied, uploaded or "
        "downloaded?)" if faststart else "not a readable video (an MP4 whose index, the moov box, is cut short: the "
        "file is incomplete, cut short while it was copied, uploaded or downloaded?)")


@pytest.mark.parametrize(("name", "audio", "picture"), [
    ("song.m4a", "aac", "mjpeg"), ("song.mp3", "libmp3lame", "mjpeg"), ("song.flac", "flac", "png"),
    ("song.mp4", "aac", "mjpeg")])
def test_an_audio_file_whose_only_picture_is_its_cover_says_audio_with_cover_art_no_video(
        tmp_path, name, audio, picture):
    """A music file with its album's cover (M4A, MP3, FLAC; an M4A renamed .mp4) is no video, and says it is audio
    with cover art. Was: `no video stream (only a cover picture: an audio file?)`, read as audio only."""
    cover = write_still(tmp_path / "cover.jpg", "mjpeg", "image2", "yuvj420p")
    song = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=2", "-i", str(cover), "-map", "0:a",
                    "-map", "1:v", "-c:a", audio, "-c:v", picture, "-disposition:v:0", "attached_pic", str(song)],
                   check=True)
    with pytest.raises(VideoError) as err:
        decode(song)
    assert str(err.value) == ("not a video (audio with cover art, no video: a music file, whose cover picture is not "
                              "analysed)")
    assert stream_digest(song) is None


@pytest.mark.parametrize("side", [1, 2])
def test_a_video_of_one_or_two_pixels_a_side_is_refused_naming_its_size(tmp_path, side):
    path = tmp_path / "dot.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv444p"
        for k in range(25):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((side, side, 3), k, np.uint8), format="bgr24")))
        out.mux(stream.encode())
    with pytest.raises(VideoError, match=rf"^unsupported resolution {side}x{side} \(under 32 px a side"):
        decode(path)


def test_a_display_matrix_turning_a_quarter_and_mirroring_is_sampled_as_ffmpeg_shows_it(tmp_path):
    """The matrix of a transpose (90 degrees and a flip, as an editor's "rotate, then mirror" writes it) and of the
    other diagonal, written into the MP4's track header: each frame as ffmpeg's autorotate gives it."""
    whole = write_video(tmp_path / "whole.mp4", [marked(48, 64)] * 10).read_bytes()
    at = whole.find(b"tkhd") + 4 + 4 + 20 + 8 + 8  # version 0: times, track id, duration; reserved, layer... volume
    one, w = 1 << 16, 1 << 30
    for name, matrix in (("transpose", (0, one, 0, one, 0, 0, 0, 0, w)), ("anti", (0, -one, 0, -one, 0, 0, 0, 0, w))):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(whole[:at] + struct.pack(">9i", *matrix) + whole[at + 36:])
        _, frames = decode(path)
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                              "-pix_fmt", "bgr24", "-"], check=True, capture_output=True).stdout
        theirs = np.frombuffer(raw, np.uint8).reshape(64, 48, 3)
        assert frames[0].bgr.shape == (64, 48, 3), name
        assert np.abs(frames[0].bgr.astype(int) - theirs).mean() < 3, name


def test_a_transport_stream_joined_across_a_jump_plays_as_long_as_its_frames_with_no_cut_short_warning(tmp_path):
    """A transport stream states the span of its times, jumps included; decoding joins across a jump past 10 s
    (test_a_timestamp_jump_inside_the_cap_is_a_discontinuity_not_a_pause). 4 s joined across 30 s were done with
    `decoding stopped at 4.0 s of the 34.0 s the file states (the file is cut short)`, and across 20 minutes
    refused as `1204 s is longer than the limit of 600 s`. An MP4 holding the same jump is held as a still, as a
    player plays it: 20 minutes, over the limit."""
    for jump_ms in (30_000, 1_200_000):
        info, frames = decode(write_jumping(tmp_path / f"jump{jump_ms}.ts", jump_ms), max_seconds=600.0)
        assert info.warning == "" and info.duration_s == pytest.approx(4.0, abs=0.1), jump_ms
        assert 3.5 <= frames[-1].timestamp_s <= 4.5
    with pytest.raises(VideoError, match=r"^1204 s is longer than the limit of 600 s$"):
        decode(write_jumping(tmp_path / "jump.mp4", 1_200_000), max_seconds=600.0)


def test_an_mp4_of_two_video_tracks_is_sampled_and_digested_from_the_track_a_player_shows(tmp_path):
    """Two video tracks (a multi-angle export; a picture-in-picture source kept beside the video): the first,
    which players show and FFmpeg picks, whatever the second's size; the digest is that track's alone."""
    first = write_video(tmp_path / "first.mp4", moving(48, 64, 50))
    second = write_video(tmp_path / "second.mp4", moving(96, 128, 75))
    both = tmp_path / "both.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(first), "-i", str(second), "-map", "0:v", "-map", "1:v", "-c",
                    "copy", str(both)], check=True)
    info, frames = decode(both)
    assert (info.width, info.height) == (64, 48) and info.duration_s == pytest.approx(2.0, abs=0.1)
    assert all(f.bgr.shape == (48, 64, 3) for f in frames)
    assert stream_digest(both) == stream_digest(first) is not None


def with_matrix(whole: bytes, path: Path, matrix) -> Path:
    """The MP4 `whole` (one track, tkhd version 0) with `matrix` (9 ints, 16.16 and 2.30) in its track header."""
    at = whole.find(b"tkhd") + 4 + 4 + 20 + 8 + 8  # version 0: times, track id, duration; reserved, layer... volume
    path.write_bytes(whole[:at] + struct.pack(">9i", *matrix) + whole[at + 36:])
    return path


def turning(clockwise_degrees: float) -> tuple[int, ...]:
    """A track header's matrix turning the picture clockwise (as ffmpeg's autorotate and ffprobe read it)."""
    r, one = np.radians(clockwise_degrees), 1 << 16
    c, s = round(np.cos(r) * one), round(np.sin(r) * one)
    return (c, s, 0, -s, c, 0, 0, 0, 1 << 30)


def test_a_matrix_a_degree_off_a_quarter_turn_is_turned_as_one_and_an_odd_angle_or_shear_is_sampled_as_stored_and_said(
        tmp_path):
    """ffmpeg's fftools warns "Odd rotation angle" past 2 degrees off a right angle (and turns the picture by its
    rotate filter, black corners), Chromium shows anything but an exact right angle as stored. Within 2 degrees the
    frames are those of the exact quarter turn (was: as stored past half a degree, a phone's 91 sideways); past it,
    and for a shear, as stored, with a note naming the angle that the row's result carries (was: in silence)."""
    whole = write_video(tmp_path / "whole.mp4", [marked(48, 64)] * 10).read_bytes()
    quarter = decode(with_matrix(whole, tmp_path / "q90.mp4", turning(90)))[1][0].bgr
    for degrees in (88.5, 91.5):
        info, frames = decode(with_matrix(whole, tmp_path / f"q{degrees}.mp4", turning(degrees)))
        assert (info.width, info.height, info.note) == (48, 64, ""), degrees
        assert np.array_equal(frames[0].bgr, quarter), degrees
    odd = {"r45.mp4": (turning(45), "turns the picture 45 degrees clockwise, not a quarter turn"),
           "r100.mp4": (turning(-100), "turns the picture 100 degrees counter-clockwise, not a quarter turn"),
           "shear.mp4": ((1 << 16, 0, 0, 1 << 15, 1 << 16, 0, 0, 0, 1 << 30), "shears the picture by 27 degrees")}
    for name, (matrix, said) in odd.items():
        path = with_matrix(whole, tmp_path / name, matrix)
        info, frames = decode(path)
        assert info.note == (f"its display matrix {said}: sampled as stored, as Chromium shows it (faces at an "
                             "angle may be missed)"), name
        assert info.warning == "" and info.height == 48 and all(corner_is_white(f.bgr) for f in frames), name
    ffmpeg = subprocess.run(["ffmpeg", "-v", "warning", "-i", str(tmp_path / "r45.mp4"), "-frames:v", "1", "-f", "null",
                             "-"], check=True, capture_output=True, text=True)
    assert "Odd rotation angle" in ffmpeg.stderr  # the player's own warning for the same file


def ffmpeg_first_frame(path: Path, height: int, width: int, decoder: tuple[str, ...] = (),
                       composited: bool = False) -> np.ndarray:
    """The first frame ffmpeg's own command decodes of `path` (`-pix_fmt rgb24`), as BGR; `decoder`: arguments
    choosing its decoder; `composited`: a transparent picture laid over black, as the page's player shows it."""
    over = ["-filter_complex", f"color=black:s={width}x{height}[bg];[bg][0:v]overlay=shortest=1"] if composited else []
    raw = subprocess.run(["ffmpeg", "-v", "error", *decoder, "-i", str(path), *over, "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    rgb = np.frombuffer(raw, np.uint8)[: height * width * 3].reshape(height, width, 3)
    return np.ascontiguousarray(rgb[:, :, ::-1])


ENCODINGS = {  # name: (ffmpeg's output arguments, the file's suffix, the size: testsrc allows odd sizes)
    "h264 10-bit": (["-c:v", "libx264", "-pix_fmt", "yuv420p10le"], "mp4", (160, 120)),
    "h264 4:4:4": (["-c:v", "libx264", "-pix_fmt", "yuv444p"], "mp4", (160, 120)),
    "h264 4:4:4 10-bit": (["-c:v", "libx264", "-pix_fmt", "yuv444p10le"], "mp4", (160, 120)),
    "h264 grey": (["-c:v", "libx264", "-pix_fmt", "gray"], "mp4", (160, 120)),
    "hevc 10-bit": (["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"], "mp4",
                    (160, 120)),
    "hevc 4:4:4": (["-c:v", "libx265", "-pix_fmt", "yuv444p", "-x265-params", "log-level=error"], "mp4", (160, 120)),
    "hevc grey": (["-c:v", "libx265", "-pix_fmt", "gray", "-x265-params", "log-level=error"], "mp4", (160, 120)),
    "vp9 with alpha": (["-vf", "format=yuva420p", "-c:v", "libvpx-vp9", "-auto-alt-ref", "0"], "webm", (160, 120)),
    "png in mov": (["-c:v", "png", "-pix_fmt", "rgba"], "mov", (160, 120)),
    "prores 4444 in mov": (["-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuva444p10le"], "mov", (160, 120)),
    "av1": (["-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "40"], "mp4", (160, 120)),
    "interlaced h264": (["-vf", "tinterlace=4", "-c:v", "libx264", "-flags", "+ildct+ilme"], "mp4", (160, 120)),
    "interlaced mpeg-2": (["-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1"], "ts", (160, 120)),
    "odd size h264 4:4:4": (["-c:v", "libx264", "-pix_fmt", "yuv444p"], "mp4", (161, 119)),
    "odd size vp9": (["-c:v", "libvpx-vp9"], "webm", (161, 119)),
    "odd size ffv1": (["-c:v", "ffv1", "-pix_fmt", "yuv420p"], "mkv", (161, 119)),
    "h264 4:2:2": (["-c:v", "libx264", "-pix_fmt", "yuv422p"], "mp4", (160, 120)),
    "h264 4:2:2 10-bit": (["-c:v", "libx264", "-pix_fmt", "yuv422p10le"], "mp4", (160, 120)),
    "hevc 4:2:2 10-bit": (["-c:v", "libx265", "-pix_fmt", "yuv422p10le", "-x265-params", "log-level=error"], "mkv",
                          (160, 120)),
    "av1 in webm": (["-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "40"], "webm", (160, 120)),
    "vp9 10-bit in webm": (["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p10le"], "webm", (160, 120)),
    "hevc 10-bit bt.2020 hlg": (["-vf", "format=yuv420p10le", "-c:v", "libx265", "-x265-params",
                                 "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
                                 "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"],
                                "mp4", (160, 120)),
    "prores 4:2:2 10-bit in mov": (["-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"], "mov",
                                   (160, 120)),
    "png 16-bit in mov": (["-c:v", "png", "-pix_fmt", "rgb48be"], "mov", (160, 120)),
    "png 16-bit grey in mov": (["-c:v", "png", "-pix_fmt", "gray16be"], "mov", (160, 120)),
}


@pytest.mark.parametrize("name", ENCODINGS)
def test_deep_full_chroma_grey_alpha_intermediate_av1_interlaced_and_odd_sized_videos_give_ffmpegs_frames(
        tmp_path, name):
    """Each gives the frames and size ffmpeg gives, for 2 s, and a digest: the same picture (services/ingest/colour.py;
    was 5 levels off on the mean of this pattern's sharp colour edges for a 4:2:0 frame of 10 bits or interlaced, 1
    for an odd width: bilinear chroma, sited and by field, where ffmpeg's is bicubic and progressive). A wrong colour
    matrix, a chroma plane swapped or shifted, bytes read in the wrong order differ by tens."""
    args, suffix, (width, height) = ENCODINGS[name]
    if name.startswith("av1") and "libdav1d" not in av.codecs_available and "av1" not in av.codecs_available:
        pytest.skip("this FFmpeg decodes no AV1")
    path = tmp_path / f"clip.{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=25:duration=2",
                    *args, str(path)], check=True)
    info, frames = decode(path)
    assert (info.width, info.height, info.warning) == (width, height, "")
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and len(frames) == 2
    assert all(f.bgr.shape == (height, width, 3) for f in frames)
    theirs = ffmpeg_first_frame(path, height, width)
    assert np.abs(frames[0].bgr.astype(int) - theirs).mean() < 0.5
    grey = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(int) for image in (frames[0].bgr, theirs)]
    assert np.abs(grey[0] - grey[1]).mean() < 0.5
    assert stream_digest(path) is not None


COLOURS = {  # name: ffmpeg's output arguments for a 160 x 120 pattern of sharp colour edges
    **{f"{codec} 10-bit {rng} {matrix}": (
        ["-vf", f"scale=out_color_matrix={matrix}:out_range={rng},format=yuv420p10le", "-c:v", encoder,
         "-colorspace", "bt709" if matrix == "bt709" else "smpte170m", "-color_range", rng, *extra], "mp4")
       for codec, encoder, extra in [("h264", "libx264", []), ("hevc", "libx265", ["-x265-params", "log-level=error"])]
       for rng in ("tv", "pc") for matrix in ("bt709", "bt601")},
    **{f"interlaced h264 {bits} {order}": (
        ["-vf", f"tinterlace=4,setfield={order},format={fmt}", "-c:v", "libx264", "-flags", "+ilme+ildct",
         "-x264-params", f"{order}=1"], "mp4")
       for bits, fmt in (("8-bit", "yuv420p"), ("10-bit", "yuv420p10le")) for order in ("tff", "bff")},
    **{f"interlaced mpeg-2 {order}": (["-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", top], "ts")
       for order, top in (("tff", "1"), ("bff", "0"))},
}


@pytest.mark.parametrize("name", COLOURS)
def test_a_10_bit_or_interlaced_frame_of_either_range_and_matrix_has_the_colours_ffmpeg_gives_it(tmp_path, name):
    """Each of BT.709 and BT.601, limited and full range, 10-bit H.264 and HEVC, and interlaced frames (top or bottom
    field first, woven: neither ffmpeg nor Chromium deinterlaces by default) sampled as `ffmpeg -pix_fmt rgb24` gives
    the frame. Was: 4.7 to 5.3 levels off on the mean (up to 255 on one pixel): PyAV's swscale upsampled the chroma
    bilinearly, at the frame's chroma siting, and field by field."""
    args, suffix = COLOURS[name]
    path = tmp_path / f"clip.{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1", *args,
                    str(path)], check=True)
    info, frames = decode(path)
    off = np.abs(frames[0].bgr.astype(int) - ffmpeg_first_frame(path, 120, 160)).mean()
    assert off < 0.5, f"{name}: {off:.2f} levels off ffmpeg's frame on the mean"


def test_a_vp9_with_alpha_is_sampled_over_black_as_the_pages_player_shows_it(tmp_path):
    """A WebM's transparency (its alpha beside each frame, which FFmpeg's own VP9 decoder drops) composited over
    black, the player's background (style.css `.player video`), as Chromium shows it: to within a level of ffmpeg's
    libvpx decoding laid over black, a transparent side black. Was: the colours under the transparency, as if
    opaque (59 levels off on the mean here)."""
    path = tmp_path / "clip.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1", "-vf",
                    "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,40),0,X*255/W)',format=yuva420p",
                    "-c:v", "libvpx-vp9", "-auto-alt-ref", "0", str(path)], check=True)
    info, frames = decode(path)
    theirs = ffmpeg_first_frame(path, 120, 160, decoder=("-c:v", "libvpx-vp9"), composited=True)
    off = np.abs(frames[0].bgr.astype(int) - theirs).mean()
    assert off < 1.0, f"{off:.2f} levels off ffmpeg's frame laid over black, on the mean"
    assert frames[0].bgr[:, :36].max() == 0  # the transparent side (a chroma sample off its edge)
    assert frames[0].bgr[:, 150:].mean() > 80  # the opaque side keeps its colours


def test_an_8_bit_progressive_frame_is_converted_as_before_bit_for_bit(corpus):
    """Phone video (8-bit 4:2:0, limited range, BT.601 or 709): the colour conversion's new path (colour.py) gives
    the very pixels PyAV's plain conversion gave, so faces found before are found again."""
    for name in ("v0001.mp4", "v0002.mp4"):
        path = corpus("dev") / "videos" / name
        with av.open(str(path)) as container:
            plain = next(container.decode(video=0)).to_ndarray(format="bgr24")
        info, frames = decode(path)
        assert np.array_equal(frames[0].bgr, plain), name


@pytest.mark.parametrize("suffix", ["mp4", "mkv"])
def test_a_variable_rate_video_of_1_ms_and_10_s_gaps_keeps_every_frame_at_its_time(tmp_path, suffix):
    """Frames 1 ms apart (a muxer's forced steps) and a still of 10 s (a screen recording): each sampled frame at its
    own time, the gap kept as the still it is, the length ffprobe states."""
    path = tmp_path / f"vfr.{suffix}"
    times = [0, 40, 41, 42, 80, 120, 10_120, 10_121, 10_160, 10_200]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for k, ms in enumerate(times):
            frame = av.VideoFrame.from_ndarray(marked(48, 64, level=20 * k), format="bgr24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    info, frames = decode(path)
    assert [round(f.timestamp_s, 2) for f in frames] == [0.0, 10.12]  # (10.121 when 10.120's B-frame is skipped)
    assert frames[1].bgr.mean() > frames[0].bgr.mean() + 50  # the frame after the still, not one before it
    stated = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                             str(path)], check=True, capture_output=True, text=True).stdout
    assert info.warning == "" and info.duration_s == pytest.approx(float(stated), abs=0.05)


@pytest.mark.parametrize("tail", ["junk", "zeros", "the same mp4", "another mp4"])
@pytest.mark.parametrize("faststart", [False, True])
def test_an_mp4_followed_by_junk_or_a_second_mp4_is_read_as_the_first_as_players_read_it(tmp_path, tail, faststart):
    first = tmp_path / "first.mp4"
    flags = ["-movflags", "+faststart"] if faststart else []
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=25:duration=2", "-c:v",
                    "libx264", *flags, str(first)], check=True)
    other = write_video(tmp_path / "other.mp4", moving(48, 64, 75)).read_bytes()
    after = {"junk": bytes(range(256)) * 400, "zeros": bytes(100_000), "the same mp4": first.read_bytes(),
             "another mp4": other}[tail]
    joined = tmp_path / "joined.mp4"
    joined.write_bytes(first.read_bytes() + after)
    info, frames = decode(joined)
    assert (info.width, info.height, info.warning) == (96, 64, "")
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and len(frames) == 2
    assert stream_digest(joined) == stream_digest(first) is not None  # the pictures shown are the first's alone


@pytest.mark.parametrize("moov", ["empty at the end", "empty in front", "zeroed"])
def test_an_mp4_whose_index_describes_no_track_says_so_not_only_no_video_stream(tmp_path, moov):
    whole = write_video(tmp_path / "whole.mp4", moving(48, 64, 25)).read_bytes()
    at = whole.rfind(b"moov") - 4
    size = struct.unpack(">I", whole[at:at + 4])[0]
    damaged = {"empty at the end": whole[:at] + struct.pack(">I", 8) + b"moov",
               "empty in front": struct.pack(">I", 8) + b"moov" + whole[:at],
               "zeroed": whole[:at + 8] + bytes(size - 8) + whole[at + size:]}[moov]
    path = tmp_path / "clip.mp4"
    path.write_bytes(damaged)
    with pytest.raises(VideoError, match=r"^not a readable video \(an MP4 whose index, the moov box, describes no "
                                         r"track: the file is damaged, or its index was never written\?\)$"):
        decode(path)
    assert stream_digest(path) is None


def test_a_file_of_a_cover_picture_alone_and_no_audio_says_only_a_cover_picture(tmp_path):
    cover = write_still(tmp_path / "cover.png", "png", "image2", "rgb24")
    path = tmp_path / "pic.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(cover), "-c:v", "mjpeg", "-disposition:v:0", "attached_pic",
                    str(path)], check=True)
    with pytest.raises(VideoError, match=r"^no video stream \(only a cover picture\)$"):
        decode(path)


@pytest.mark.parametrize(("width", "height"), [(2, 8000), (8000, 2)])
def test_a_video_of_a_line_of_pixels_is_refused_naming_its_size(tmp_path, width, height):
    path = tmp_path / "line.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25:duration=1",
                    "-c:v", "ffv1", str(path)], check=True)
    with pytest.raises(VideoError, match=rf"^unsupported resolution {width}x{height} \(under 32 px a side"):
        decode(path)


@pytest.mark.parametrize("suffix", ["webm", "mp4"])
def test_a_vp9_recording_whose_size_changes_mid_stream_is_sampled_at_each_size(tmp_path, suffix):
    """A browser's screen or camera recording changes size at a key frame inside one track (the container states
    the first size): each part sampled at its own size, a new shot at the change, over the whole length."""
    parts = []
    for k, size in enumerate(("160x120", "320x180")):
        parts.append(tmp_path / f"part{k}.webm")
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=2",
                        "-c:v", "libvpx-vp9", "-g", "25", str(parts[-1])], check=True)
    (tmp_path / "parts.txt").write_text("".join(f"file '{p}'\n" for p in parts))
    joined = tmp_path / f"joined.{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(tmp_path / "parts.txt"), "-c",
                    "copy", str(joined)], check=True)
    info, frames = decode(joined)
    assert (info.width, info.height, info.warning) == (160, 120, "")
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert [f.bgr.shape[:2] for f in frames] == [(120, 160), (120, 160), (180, 320), (180, 320)]
    assert frames[2].shot != frames[1].shot


def repeating(path: Path, width: int, height: int, times_ms: list[int]) -> Path:
    """An H.264 file of one picture, then frames repeating it (a few bytes each: a file tiny for what it decodes to),
    shown at `times_ms`."""
    seed = path.with_suffix(".seed.mp4")
    with av.open(str(seed), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"bf": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        image = np.zeros((height, width, 3), np.uint8)
        image[::64] = 255
        for k in range(3):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    with av.open(str(seed)) as inp:
        first, _, repeat = (bytes(p) for p in inp.demux(video=0) if p.size)
        with av.open(str(path), "w") as out:
            stream = out.add_stream_from_template(inp.streams.video[0])
            stream.time_base = Fraction(1, 1000)
            for k, ms in enumerate(times_ms):
                packet = av.Packet(first if k == 0 else repeat)
                packet.stream, packet.time_base, packet.pts, packet.dts = stream, Fraction(1, 1000), ms, ms
                packet.is_keyframe = k == 0
                out.mux(packet)
    seed.unlink()
    return path


def test_a_small_file_stating_more_pixels_a_second_than_4k_at_240_fps_is_refused_before_decoding(tmp_path):
    """4096x4096 at 240 fps, each frame after the first repeating it in 28 bytes: 20 s in 200 KB, which took a minute
    of CPU to decode (10 minutes of it, within the duration cap, 30, past the decoder's timeout). Refused from what
    its header states, no frame decoded."""
    path = repeating(tmp_path / "bomb.mp4", 4096, 4096, [round(k * 1000 / 240) for k in range(240 * 20)])
    assert path.stat().st_size < 300_000
    with pytest.raises(VideoError, match=r"^not a video we read: 4096x4096 at 240 fps is 4,0\d\d million pixels a "
                                         r"second to decode, over the 2,123 million of 4K at 240 fps \(a small file "
                                         r"made to decode huge\?\)$"):
        sample_frames(path, ShotSampler(1.0))


def test_a_small_file_whose_frames_outrun_the_rate_it_states_is_refused_once_its_decoding_does(tmp_path):
    """A second at 30 fps (the rate FFmpeg reads from the head), then 4 s at 240 fps of 4096x4096: the stated rate
    passes, the frames decoded do not: refused once they pass 4K at 240 fps over the time they cover (at 2.9 s of
    frames), long before their total would (a 4K capture at 240 fps is read, short enough)."""
    times = [round(k * 1000 / 30) for k in range(30)] + [1000 + round(k * 1000 / 240) for k in range(240 * 4)]
    path = repeating(tmp_path / "burst.mkv", 4096, 4096, times)
    info, frames = sample_frames(path, ShotSampler(1.0))
    assert info.fps == 30
    with pytest.raises(VideoError, match=r"^not a video we read: decoding [\d,]+ pixels in [23]\.\d s of frames is "
                                         r"[\d,]+ million pixels a second to decode, over the 2,123 million"):
        list(frames)


@pytest.mark.parametrize("fps", [144, 240])
def test_a_short_4k_screen_capture_above_120_fps_is_read(tmp_path, fps):
    """A brand's 4K screen capture at 144 or 240 fps: its total work is within 4K at 120 fps over the duration cap,
    so it is read whole. Was: refused, `4096x2160 at 144 fps is 1,274 million pixels a second to decode, over the
    1,062 million of 4K at 120 fps`, whatever its length."""
    path = repeating(tmp_path / "capture.mp4", 4096, 2160, [round(k * 1000 / fps) for k in range(fps // 2)])
    info, frames = decode(path, max_seconds=600.0)
    assert (info.width, info.height, info.warning) == (4096, 2160, "") and info.fps > fps * 0.9
    assert info.duration_s == pytest.approx(0.5, abs=0.05) and frames


def test_a_file_stating_more_pixels_in_all_than_4k_at_120_fps_over_the_duration_cap_is_refused_before_decoding(
        tmp_path):
    """4K at 240 fps for 40 s (frames repeating the first: 9,600 in a small file) against a cap of 60 s: 84,935
    million pixels, over the 63,701 million of 4K at 120 fps for 60 s. Refused from its header, as it is opened: no
    frame decoded past the probe's, in a second or so."""
    path = repeating(tmp_path / "bomb.mp4", 4096, 2160, [round(k * 1000 / 240) for k in range(240 * 40)])
    assert path.stat().st_size < 1_000_000
    t0 = time.perf_counter()
    with pytest.raises(VideoError, match=r"^not a video we read: 4096x2160 at 240 fps for 40\.0 s is 84,9\d\d million "
                                         r"pixels to decode, over the 63,701 million of 4K at 120 fps for the 60 s a "
                                         r"video may last \(a file made to decode huge\?\)$"):
        open_video(path, max_seconds=60.0)
    assert time.perf_counter() - t0 < 5.0


def test_a_file_whose_frames_pass_the_total_its_header_kept_within_is_refused_once_its_decoding_does(tmp_path):
    """A second at 30 fps of 4K (the rate FFmpeg reads from the head: 3.5 s of it are within the total), then 4K at
    240 fps, within the rate no capture reaches: decoding stops once its pixels pass the total for the cap (4 s here:
    4,247 million), at about 2.9 s of frames, not at the cap's end, in the memory of a few 4K frames."""
    times = [round(k * 1000 / 30) for k in range(30)] + [1000 + round(k * 1000 / 240) for k in range(600)]
    path = repeating(tmp_path / "burst.mkv", 4096, 2160, times)
    script = ("import re, sys; from pathlib import Path\n"
              "from services.ingest.sampling import ShotSampler\n"
              "from services.ingest.video import VideoError, sample_frames\n"
              "peak = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024\n"
              "before = peak()\n"
              "info, frames = sample_frames(Path(sys.argv[1]), ShotSampler(1.0), max_seconds=4.0)\n"
              "print(info.fps)\n"
              "try:\n    list(frames)\nexcept VideoError as exc:\n    print(exc)\n"
              "print(peak() - before)")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    fps, refusal, grown_mb = run.stdout.splitlines()
    assert float(fps) == 30
    assert re.match(r"^not a video we read: decoding passed 4,2\d\d million pixels at 2\.\d s of frames, over the "
                    r"4,247 million of 4K at 120 fps for the 4 s a video may last \(a file made to decode huge\?\)$",
                    refusal), refusal
    assert int(grown_mb) < 400, f"refusing it grew the peak by {grown_mb} MB (a few 4K frames: 172 MB)"


def test_a_4k_video_at_120_fps_is_read(tmp_path):
    """The fastest a phone records (4K at 120 fps) is within the pixel rate: read whole."""
    path = repeating(tmp_path / "fast.mp4", 3840, 2160, [round(k * 1000 / 120) for k in range(60)])
    info, frames = decode(path)
    assert (info.width, info.height) == (3840, 2160) and info.fps > 110  # ms times: 114 fps on average
    assert info.duration_s == pytest.approx(0.5, abs=0.05) and frames


def audio_streams(tmp_path: Path, count: int) -> Path:
    """A Matroska file of a 2 s video and `count` copies of its AAC audio."""
    one = tmp_path / "one.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=2", "-f",
                    "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p",
                    str(one)], check=True)
    path = tmp_path / f"audio{count}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(one), "-map", "0:v", *["-map", "0:a"] * count, "-c", "copy",
                    str(path)], check=True)
    return path


def test_a_video_beside_127_audio_streams_is_read(tmp_path):
    info, frames = decode(audio_streams(tmp_path, 127))
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and frames


def test_a_video_beside_a_thousand_audio_streams_is_refused_from_its_header(tmp_path):
    """Each audio stream is probed (0.7 MB): 998 of them beside a video (an 18 MB file) peaked at 770 MB, in ingest's
    own process (the repost digest) as in the decoder's, and the video was read. Refused from the file's header now,
    as a file of too many video streams is."""
    path = audio_streams(tmp_path, 998)
    refusal, grown_mb = refused_in_a_fresh_process(path)
    assert refusal == ("not a video we read: 999 streams (audio, subtitles or data beside its video: more than 128 "
                       "would take hundreds of megabytes of memory to open)")
    assert int(grown_mb) < 200, f"refusing 999 streams grew the peak by {grown_mb} MB (was 770 MB)"


def stated_duration(src: Path, dst: Path, ms: float) -> Path:
    """The Matroska file `src` with the duration its segment info states (an 8-byte float, in ms) set to `ms`."""
    data = bytearray(src.read_bytes())
    at = data.find(b"\x44\x89\x88") + 3
    data[at:at + 8] = struct.pack(">d", ms)
    dst.write_bytes(bytes(data))
    return dst


def test_a_whole_matroska_file_stating_ten_hours_for_its_20_s_is_as_long_as_its_frames_without_a_warning(tmp_path):
    """Its segment ends where the file does, so the frames ending at 20 s of the 36,000 s its header states are a
    header's mistake: no frame is missing. Was: done with `decoding stopped at 20.0 s of the 36000.0 s the file states
    (the file is cut short)`, and so left out of the repost check. Cut in half, it still says it is cut short; one
    stating 1 s is as long as its frames."""
    whole = tmp_path / "whole.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=20", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", str(whole)], check=True)
    for stated in (36_000_000.0, 1000.0):
        info, frames = decode(stated_duration(whole, tmp_path / "lying.mkv", stated))
        assert info.duration_s == pytest.approx(20.0) and info.warning == "" and len(frames) == 20
    cut = tmp_path / "cut.mkv"
    lying = stated_duration(whole, tmp_path / "lying.mkv", 36_000_000.0).read_bytes()
    cut.write_bytes(lying[: len(lying) // 2])
    info, _ = decode(cut)
    assert info.warning.startswith("decoding stopped at ") and info.warning.endswith("(the file is cut short)")


def refused_in_a_fresh_process(path: Path) -> tuple[str, int]:
    """(the refusal, MB its peak grew by) of the stream digest and the opening of `path`, in a process of its own,
    whose peak resident size is that of this refusal alone."""
    script = ("import re, sys; from pathlib import Path\n"
              "from services.ingest.stream_digest import stream_digest\n"
              "from services.ingest.video import VideoError, open_video\n"
              "peak = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024\n"
              "before = peak()\n"
              "assert stream_digest(Path(sys.argv[1])) is None\n"
              "try:\n    open_video(Path(sys.argv[1]))\nexcept VideoError as exc:\n    print(exc)\n"
              "print(peak() - before)")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    refusal, grown_mb = run.stdout.splitlines()
    return refusal, int(grown_mb)


def test_a_video_track_of_no_frame_beside_audio_is_refused_saying_so_with_the_length_stated(tmp_path):
    """A Matroska file of 2.3 s of audio and a video track that never got a packet (a recording whose camera gave
    nothing): was `no decodable frames`, as if frames were there and damaged."""
    path = tmp_path / "empty_track.mkv"
    with av.open(str(path), "w", format="matroska") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("aac", rate=44100)
        for k in range(100):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, k * 1024
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    with pytest.raises(VideoError, match=r"^not a video \(its video track holds no frame, though the file states "
                                         r"2\.3 s: an audio file, or a recording that got no picture\?\)$"):
        decode(path)


@pytest.mark.parametrize("brand, kind", [(b"avif", "AVIF"), (b"heic", "HEIC, as iPhones save photos")])
def test_a_heif_photo_named_mp4_is_named_an_image_file_before_it_is_opened_and_its_animation_is_read(
        tmp_path, brand, kind):
    """A HEIF still (an AVIF made here; the same file under an iPhone's `heic` brand) named .mp4: was `not a video (a
    single still frame)`, and a real iPhone photo, whose 48 tiles FFmpeg reads as streams, `not a video we read: 49
    video streams`. Named from its `ftyp` brand now, nothing probed. An AVIF animation (`avis`) is a short video."""
    still = tmp_path / "still.avif"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "1",
                    "-c:v", "libaom-av1", "-cpu-used", "8", "-still-picture", "1", str(still)], check=True)
    data = bytearray(still.read_bytes())
    data[8:12] = brand
    photo = tmp_path / "IMG_2041.mp4"
    photo.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=rf"^not a video \(an image file: {kind}; give the video itself\)$"):
        decode(photo)
    assert stream_digest(photo) is None
    animation = tmp_path / "anim.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=2", "-c:v",
                    "libaom-av1", "-cpu-used", "8", "-f", "avif", str(animation)], check=True)
    info, frames = decode(animation)
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and len(frames) == 2


def looped(src: Path, dst: Path, times: int) -> Path:
    """`src` (an MP4 of one edit, its index at the end) with an edit list playing its media `times` times over, the
    movie and track headers stating that length: a loop made by the index alone, as editors write a repeated clip."""
    data = bytearray(src.read_bytes())
    at = data.find(b"elst")
    size, entry = struct.unpack(">I", data[at - 4:at])[0], bytes(data[at + 12:at + 24])
    elst = struct.pack(">I", 16 + 12 * times) + b"elst" + bytes(data[at + 4:at + 8]) + struct.pack(">I", times)
    grown = data[:at - 4] + elst + entry * times + data[at - 4 + size:]
    for box in (b"edts", b"trak", b"moov"):  # the boxes holding the edit list grow with it
        where = grown.rfind(box, 0, at)
        grown[where - 4:where] = struct.pack(">I", struct.unpack(">I", grown[where - 4:where])[0] + 12 * (times - 1))
    for box, offset in ((b"mvhd", 20), (b"tkhd", 24)):  # version 0: the header's duration
        where = grown.find(box) + offset
        grown[where:where + 4] = struct.pack(">I", struct.unpack(">I", grown[where:where + 4])[0] * times)
    dst.write_bytes(bytes(grown))
    return dst


def test_an_mp4_whose_edit_list_plays_its_media_three_times_is_as_long_as_it_plays_and_no_copy_of_its_clip(tmp_path):
    """An edit list of three entries over the same second: a player plays 3 s, the clip three times. Sampled over the
    3 s (a frame each second), and its stream digest is not its clip's: a copy of the clip is not this video."""
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v",
                    "libx264", "-bf", "0", "-pix_fmt", "yuv420p", str(clip)], check=True)
    loop = looped(clip, tmp_path / "loop.mp4", 3)
    info, frames = decode(loop)
    assert (info.duration_s, info.warning) == (pytest.approx(3.0, abs=0.05), "")
    assert [round(f.timestamp_s) for f in frames] == [0, 1, 2]
    assert stream_digest(loop) not in (None, stream_digest(clip))


def test_an_h264_track_whose_sps_changes_to_a_larger_size_mid_stream_is_sampled_at_each_size(tmp_path):
    """One MP4 track of two H.264 streams joined (160x120, then 640x480: in-band parameter sets past the first, which
    the track's avcC alone states): each part sampled at its own size, the whole length, as ffprobe times it."""
    parts = []
    for size in ("160x120", "640x480"):
        parts.append(tmp_path / f"{size}.h264")
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=2",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(parts[-1])], check=True)
    joined = tmp_path / "joined.h264"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    track = tmp_path / "joined.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-r", "25", "-i", str(joined), "-c", "copy", str(track)], check=True)
    stated = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                   str(track)], check=True, capture_output=True, text=True).stdout)
    info, frames = decode(track)
    assert (info.width, info.height, info.warning) == (160, 120, "")
    assert info.duration_s == pytest.approx(stated, abs=0.05)
    assert [f.bgr.shape[:2] for f in frames] == [(120, 160), (120, 160), (480, 640), (480, 640)]
    assert frames[2].shot != frames[1].shot


def box_boundaries(data, at=0, end=None):
    """Every offset at which an MP4 box, or a box inside moov, begins, ends or has its header whole: where a copy,
    upload or download that stopped between writes leaves the file. Yields (offset, the box's path)."""
    end = len(data) if end is None else end
    parents = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf"}
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size < 8:
            return
        yield at, kind
        yield at + 8, kind
        if kind in parents:
            yield from box_boundaries(data, at + 8, at + size)
        at += size


@pytest.mark.parametrize("faststart", [False, True])
def test_an_mp4_cut_at_any_box_boundary_is_named_as_cut_short_never_as_an_audio_file_or_an_unknown_codec(
        tmp_path, faststart):
    """A video with sound cut at each box boundary, its index last (as phones write it) or first. Cut inside the
    video track's index (before its handler or its sample description), the file was `no video stream`, as an audio
    file is, or `not a readable video (no decoder for its codec)`, and the repost digest, read before decoding, raised
    AttributeError, which failed the row naming no video problem at all; cut right after an index given first, `its
    video track holds no frame ... an audio file, or a recording that got no picture?`. Each names the cut now; a cut
    inside the sound's index alone leaves the video whole."""
    from services.ingest.stream_digest import coded_stream

    whole = tmp_path / "whole.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=2", "-f",
                    "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p",
                    *(["-movflags", "faststart"] if faststart else []), str(whole)], check=True)
    data = whole.read_bytes()
    tracks = sorted({at for at, kind in box_boundaries(data) if kind == b"trak"})
    sound_from = tracks[2]  # the second track's start (each track: its start, its header's end): the first, the
    # video's index, is whole from here
    cut_short = {"not a readable video (an MP4 whose index, the moov box, is cut short: the file is incomplete, cut "
                 "short while it was copied, uploaded or downloaded?)",
                 "not a readable video (an MP4 without its index, the moov box: the file is incomplete, cut short "
                 "while it was copied, uploaded or downloaded?)",
                 "not a readable video (the file ends before its first frame: cut short while it was copied, uploaded "
                 "or downloaded?)"}
    moov = data.find(b"moov") - 4
    moov_end = moov + int.from_bytes(data[moov:moov + 4], "big")
    cuts = sorted({at for at, _ in box_boundaries(data)} - {0, len(data)})
    assert len(cuts) > 40
    for at in cuts:
        cut = tmp_path / f"cut{at}.mp4"
        cut.write_bytes(data[:at])
        coded_stream(cut)  # a digest or None, never an exception
        try:
            info, frames = decode(cut)
        except VideoError as exc:
            assert str(exc) in cut_short, (at, str(exc))
        else:
            assert sound_from <= at < moov_end and not faststart, at  # the video's index whole, its frames too
            assert info.duration_s == pytest.approx(2.0, abs=0.05) and len(frames) >= 2
        cut.unlink()
