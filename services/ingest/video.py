"""Video decoding with PyAV (FFmpeg): every frame is decoded (needed to see every cut), but only the
luma plane of each is looked at, and only sampled frames are converted to colour and turned upright.

Whatever a file holds, the caller sees frames or a VideoError naming the problem, never another
exception: still images, audio-only files, damaged or absurd streams (sizes, frame rates, time bases,
timestamps) are all refused in words, and the resolution and duration caps hold for every frame.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import av
import numpy as np
from av.sidedata.sidedata import SideDataContainer

from services.ingest.colour import alpha_decoder, to_bgr
from services.ingest.mp4_index import overdeclared
from services.ingest.pipe_spool import PipeRefused, as_file
from services.ingest.sampling import ShotSampler
from services.ingest.sniff import (
    LIST_KINDS,
    SNIFF_BYTES,
    gif_lacks_trailer,
    heif_still,
    is_animated_webp,
    matroska_unread,
    matroska_whole,
    mp4_box_cut_short,
    mp4_lacks_index,
    text_kind,
)

THUMB_CELLS = 48  # the luma thumbnail is about this many cells along the long side
MIN_SIDE = 32  # px: smaller frames hold no recognisable face
DEFAULT_FPS = 25.0  # frames a second assumed when the stream states no usable rate
MAX_FPS = 240.0  # a stated rate above this is damage; also bounds frames per second of the duration cap
SKIP_MIN_FPS = 10.0  # frames a second from which the decoder skips frames no other refers to (_decoded)
MAX_GAP_S = 10.0  # timestamps jumping further ahead than this, or going back, are a discontinuity
MIN_STEP_S = 1e-4  # s: frames closer than this share a time (no camera's are: a muxer's forced one-tick steps)
# Frames a step back may lie and still be frames shown out of their decoding order, not a join: B-frames' times
# rounded to a coarse time base (an MP4 of timescale 10: 25 fps frames 0.1 s apart, bumped a tick where two
# met) come out of the decoder a few ticks back. Each such frame is held at the latest time; rebased a frame
# ahead, each added a frame's time: 75 frames of 7.3 s read as 10.7 s.
REORDER_FRAMES = 8
# Packets at the head of a stream that hold no timestamp, kept undecoded until one with a timestamp shows whether
# they lie before the video's start (Matroska's blocks before 0 are read so) or the stream has no timestamps.
LEAD_PACKETS = 600
LEAD_BYTES = 16 << 20  # and bytes of them at most (a raw 4K stream, timed by nothing, held no more)
MAX_PIXEL_ASPECT = 4  # a pixel aspect ratio (SAR) beyond 1:4..4:1 is damage, not a camera's
# The work a video may ask of the decoder is held in total, not by the second: pixels to decode over the whole video,
# at most WORK_PIXEL_RATE for every second of the duration cap (4K, 4096 wide, DCI, at 120 fps, the fastest phones
# record: 637,000 million pixels for 10 minutes, ~12 minutes of CPU here at 0.9 G pixels a CPU second of repeated
# 4K frames, within the decoder's 21-minute timeout; the rate cap it replaces let the same total through).
# So a 4K screen capture at 144 or 240 fps is read when it is short enough (4K at 144 fps: 8 minutes), where a rate
# cap of 4K at 120 fps refused it whatever its length; a file made to decode huge (frames that repeat the last in a
# few bytes each: 4096x4096 at 240 fps is 200 KB for 20 s, a minute of CPU, and 10 minutes of it 30) is refused from
# what its header states when that passes the total, else once its decoding does.
WORK_PIXEL_RATE = 4096 * 2160 * 120
# Pixels a second no capture reaches: 4K at MAX_FPS. Frames coming faster (a stream stating 30 fps whose frames then
# come at 240 fps of 4096x4096) are a file made to decode huge, refused within seconds rather than at the total.
MAX_PIXEL_RATE = 4096 * 2160 * int(MAX_FPS)
DECODER_PIXEL_FACTOR = 4  # the decoder itself never allocates frames over this many times the pixel cap
MAX_BAD_PACKETS = 250  # packets in a row the decoder refuses before the rest is taken for garbage, not damage
MAX_VIDEO_STREAMS = 16  # a file holding more (not cover art) is refused before they are decoded (open_file)
# Streams of every kind a file may hold (open_file): a video's own, audio in a few dozen languages, subtitles, data.
# Each costs its probe (0.7 MB, audio too): 998 audio streams beside a video (18 MB) took 770 MB in ingest's own
# process (the repost digest) and as much in the decoder's.
MAX_STREAMS = 128
PROBE_MAX_PIXELS = 4096 * 4096 * DECODER_PIXEL_FACTOR  # no frame larger is decoded to probe a file (open_file)
# Streams at the head of a file probed by decoders that decode (open_file): a video's is the first or the second
# (after its audio or its cover art); audio and data streams are probed alike either way.
PROBED_STREAMS = 2
# Degrees a display matrix's angle (in whole degrees) may lie off a right angle and still be that right angle (a
# phone's matrix written with rounding, an editor's 89.5): ffmpeg's fftools calls an angle odd only past 2. Past it,
# players differ (ffmpeg turns the picture by its rotate filter, black corners; Chromium shows it as stored).
RIGHT_ANGLE_SLACK_DEG = 2.0

# Demuxers of image files: a photo renamed .mp4 is opened by these, not by a video demuxer. Animated GIF and
# APNG are not among them: social posts are often animations, and they are read as the short videos they are
# (a one-frame one is a still, refused as a single frame); FFmpeg does not decode animated WebP.
IMAGE_FORMATS = frozenset({"image2", "image2pipe", "ico", "jpegxl_anim", "webp"})
# Demuxers that open other files or addresses named inside the file (playlists, concat lists, session
# descriptions, subtitles beside an index), or draw a text file as pictures. A row names one file and only that
# file is read: the allowed folder, the address guard and the content hash all hold for it alone (a local .m3u8
# read any .ts on the disk, an ffconcat list the files beside it).
REFUSED_DEMUXERS = frozenset({"hls", "dash", "concat", "imf", "sdp", "rtsp", "rtp", "rtp_mpegts", "vobsub", "tty",
                              "bin", "xbin", "adf", "idf", "dvdvideo", "avisynth", "vapoursynth", "lavfi"})
# Pixel formats whose first plane is 8-bit luma, one byte a pixel (read directly for the thumbnail).
LUMA8_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p",
                           "yuvj440p", "yuv411p", "yuvj411p", "yuv410p", "nv12", "nv21", "nv16", "gray", "yuva420p"})
# What PyAV and FFmpeg raise on damaged or hostile input (av.error.* are FFmpegError); turned into VideoError.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    av.FFmpegError, OSError, EOFError, ValueError, ArithmeticError, MemoryError)


class VideoError(Exception):
    """A video that cannot be decoded; the message names the problem in words a user understands."""


@dataclass
class VideoInfo:
    """`width` x `height`: px of the first frame as shown (after rotation); `fps`: frames a second;
    `duration_s`: seconds, the container's duration until the frames iterator is exhausted, then the
    decoded duration wherever they disagree (the container states none, less than was decoded, or more
    than the frames hold: a truncated file); `codec`: FFmpeg's decoder name; `warning`: set once the
    iterator is exhausted when decoding stopped early (damage, or frames missing from the stated length);
    `start_s`: seconds from a player's 0 to the first frame shown (its timestamp: an edit list, a stream muxed
    late, a recording's clock; frames before 0 are not shown), which frame times, counted from it, leave out;
    `note`: how the frames were taken where players differ (a display matrix of an odd angle: sampled as stored),
    a remark that, unlike `warning`, says nothing is missing from them."""

    width: int
    height: int
    fps: float
    duration_s: float
    codec: str
    warning: str = ""
    start_s: float = 0.0
    note: str = ""


def ended_early(declared_s: float, decoded_s: float) -> bool:
    """True when `decoded_s` seconds of frames fall short of the `declared_s` the container states by more
    than a container's own rounding and trailing audio allow (a second, or 5% of the length)."""
    return declared_s > 0 and decoded_s < declared_s - max(1.0, 0.05 * declared_s)


@dataclass
class SampledFrame:
    index: int  # position among the decoded frames
    timestamp_s: float
    shot: int
    bgr: np.ndarray  # (height, width, 3) uint8, upright
    span_s: float = 0.0


def describe(exc: BaseException) -> str:
    """A short reason for a decoder exception, without a traceback. FFmpeg's errors give their words alone: their
    text also holds an error number and the file's path (the download's scratch file, for a URL)."""
    if isinstance(exc, av.error.InvalidDataError):
        return "invalid data"
    if isinstance(exc, av.error.PatchWelcomeError):
        return "a feature the decoder does not implement"
    if isinstance(exc, MemoryError):
        return "out of memory (absurd frame size?)"
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror).strip()[:200]
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text}"[:200] if text else exc.__class__.__name__


def _clockwise_degrees(m: list[float]) -> float | None:
    """The clockwise angle in degrees, in [0, 360), by which the display matrix `m` (9 floats) turns its picture, as
    FFmpeg reads it (av_display_rotation_get: each column's scale divided out); None for a
    degenerate matrix."""
    sx, sy = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if sx == 0.0 or sy == 0.0 or not math.isfinite(sx + sy):
        return None
    return math.degrees(math.atan2(m[1] / sy, m[0] / sx)) % 360.0


def odd_display(matrix: np.ndarray | None) -> str:
    """Why the display matrix `matrix` (as in upright) asks for more than upright applies, so that its picture is
    sampled as stored: an angle further than RIGHT_ANGLE_SLACK_DEG from a right angle, a shear, a perspective;
    "" when it asks nothing else (none, right angles and mirrors, a scale, which FFmpeg reads as the pixels'
    aspect ratio)."""
    if matrix is None or len(matrix) < 9:
        return ""
    m = [float(v) for v in matrix[:9]]
    theta = _clockwise_degrees(m)
    if theta is None:
        return ""
    sx, sy = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    shear = math.degrees(math.asin(min(1.0, abs(m[0] * m[1] + m[3] * m[4]) / (sx * sy))))
    if shear > RIGHT_ANGLE_SLACK_DEG:
        return f"its display matrix shears the picture by {shear:.0f} degrees"
    if m[2] or m[5]:
        return "its display matrix puts the picture in perspective"
    degrees = round(theta)  # whole degrees, as fftools' get_rotation rounds them before it judges
    if abs(degrees - 90 * round(degrees / 90)) > RIGHT_ANGLE_SLACK_DEG:
        turn = degrees if degrees <= 180 else degrees - 360
        way = "clockwise" if turn > 0 else "counter-clockwise"
        return f"its display matrix turns the picture {abs(turn)} degrees {way}, not a quarter turn"
    return ""


def display_note(matrix: np.ndarray | None) -> str:
    """VideoInfo.note of a video whose first frame has the display matrix `matrix`: how its frames are sampled where
    players differ (odd_display); "" where they agree. A copy of it (the same coded stream, matrix included) is
    noted the same."""
    odd = odd_display(matrix)
    return f"{odd}: sampled as stored, as Chromium shows it (faces at an angle may be missed)" if odd else ""


def upright(image: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """`image` (H, W, ...) turned as a player shows it, by FFmpeg's display matrix: 9 int32, row-major,
    16.16 fixed point (None: shown as stored). Right angles and mirrors are applied exactly as ffmpeg's
    autorotate applies them (fftools `get_rotation` and the transpose/hflip/vflip choice), an angle within
    RIGHT_ANGLE_SLACK_DEG of a right angle as that right angle; what odd_display names (another angle, a shear)
    is left as stored, as Chromium shows it. Returns a view, possibly not contiguous."""
    if matrix is None or len(matrix) < 9 or odd_display(matrix):
        return image
    m = [float(v) for v in matrix[:9]]
    theta = _clockwise_degrees(m)
    if theta is None:
        return image
    quarters = round(theta / 90.0) % 4
    if quarters == 1:
        return image.swapaxes(0, 1) if m[3] > 0 else np.rot90(image, -1)
    if quarters == 2:
        image = image[:, ::-1] if m[0] < 0 else image
        return image[::-1] if m[4] < 0 else image
    if quarters == 3:
        return np.rot90(image, -1)[::-1] if m[3] < 0 else np.rot90(image, 1)
    return image[::-1] if m[4] < 0 else image


def display_matrix(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's DISPLAYMATRIX side data as 9 int32, or None. Read through a container of its own: the one
    `frame.side_data` gives is kept on the frame and keeps the frame, a cycle that held every sampled frame's
    pixels until the garbage collector ran (64 MiB each for a 4096x4096 animation)."""
    for side in SideDataContainer(frame):
        if getattr(side.type, "name", "") == "DISPLAYMATRIX":
            data = bytes(side)
            return np.frombuffer(data[:36], "=i4") if len(data) >= 36 else None
    return None


def shown_aspect_size(width: int, height: int, aspect: Fraction | None, max_pixels: int) -> tuple[int, int]:
    """(width, height) in px that `width` x `height` stored pixels take when shown at their aspect ratio `aspect`
    (SAR: a pixel's width over its height; None or 0: unknown, square): the pixel's short side stretched, as a
    player does (HDV's 1440x1080 at 4:3 is 1920x1080), or, past `max_pixels`, its long side shrunk. An aspect
    beyond 1:4..4:1 is damage, shown as stored (real ones lie between 8:9 and 2:1)."""
    if not aspect or aspect == 1 or not Fraction(1, MAX_PIXEL_ASPECT) <= aspect <= MAX_PIXEL_ASPECT:
        return width, height
    wider, narrower = (max(1, round(width * aspect)), height), (width, max(1, round(height / aspect)))
    stretched, shrunk = (wider, narrower) if aspect > 1 else (narrower, wider)
    return stretched if stretched[0] * stretched[1] <= max_pixels else shrunk


def pixel_aspect(stream: av.video.stream.VideoStream) -> Fraction | None:
    """The aspect ratio of the stream's pixels (SAR) as FFmpeg guesses it: the container's, else the
    bitstream's (the decoder's, once a frame is decoded); None when neither states one."""
    for aspect in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if aspect:
            return Fraction(aspect)
    return None


# Codecs whose decoder gives each field of an interlaced video as a picture of its own, half the frame's height,
# flagged interlaced (HEVC codes interlaced video only as fields, its SEI's pic_struct naming each: FFmpeg flags those
# pictures interlaced, and only those). H.264's and MPEG-2's decoders weave their fields into whole frames.
FIELD_CODECS = frozenset({"hevc"})


def frame_aspect(stream: av.video.stream.VideoStream, frame: av.VideoFrame) -> Fraction | None:
    """The aspect ratio `frame`'s pixels are shown at: the stream's (pixel_aspect), halved for a field (FIELD_CODECS: an
    interlaced HEVC stream's 1920x540 fields shown 1920x1080, as the frame they are half of; was sampled at 540, each
    face squashed to half its height)."""
    aspect = pixel_aspect(stream)
    codec = stream.codec_context.codec if stream.codec_context is not None else None
    if frame.interlaced_frame and codec is not None and codec.canonical_name in FIELD_CODECS:
        return (aspect or Fraction(1)) / 2
    return aspect


def shown_size(frame: av.VideoFrame, aspect: Fraction | None, max_pixels: int) -> tuple[int, int]:
    """(width, height) in px of `frame` as a player shows it (its pixels at their aspect ratio `aspect`, then
    turned by its display matrix)."""
    width, height = shown_aspect_size(frame.width, frame.height, aspect, max_pixels)
    turned = upright(np.empty((height, width, 0), np.uint8), display_matrix(frame))
    return turned.shape[1], turned.shape[0]


def _bgr(frame: av.VideoFrame, aspect: Fraction | None, max_pixels: int) -> np.ndarray:
    """`frame` as BGR (H, W, 3) uint8, its pixels at their aspect ratio (not yet turned upright), its colours as
    ffmpeg converts them and a player composites them (colour.to_bgr)."""
    return to_bgr(frame, *shown_aspect_size(frame.width, frame.height, aspect, max_pixels))


def sane_fps(*rates: object) -> float:
    """The first usable frame rate among `rates` (Fractions, numbers or None), clamped to 1..MAX_FPS. A rate
    above MAX_FPS is passed over for a later one within it: an average over timestamps that barely advance
    (4,000 fps for 180 frames muxed 65 us apart) is damage, where the bitstream's rate is the video's."""
    usable = []
    for rate in rates:
        try:
            fps = float(rate) if rate else 0.0  # type: ignore[arg-type]
        except DECODE_ERRORS:
            continue
        if math.isfinite(fps) and fps > 0:
            usable.append(fps)
    fps = next((r for r in usable if r <= MAX_FPS), usable[0] if usable else DEFAULT_FPS)
    return min(max(fps, 1.0), MAX_FPS)


class FrameClock:
    """Seconds of each decoded frame: from its pts where they are sane, otherwise counted on from the last
    good time. Missing pts advance by one frame per demuxed packet; a backward jump or one further ahead
    than `max_gap_s` (MAX_GAP_S: joined segments, wrap-around, damage) is rebased to follow on. A time may be
    repeated once (a join where the next part starts at the last one's time); a third frame at it, or
    within MIN_STEP_S, is timestamps that do not advance (all equal: damage) and follows on a frame later,
    never piling a whole video onto one instant. A step back of REORDER_FRAMES frames at most is a frame shown
    out of order (coarse timestamps of B-frames) and is held at the latest time. A jump ahead to where the frame before
    says it ends (its own duration: a slideshow of a picture every 20 s) is that frame held, never a join. The result
    is finite and never decreasing, so decoded time can be capped whatever the timestamps claim."""

    def __init__(self, fps: float, time_base: Fraction | None, start_pts: int | None,
                 max_gap_s: float = MAX_GAP_S) -> None:
        # Exact seconds (Fractions): a time of 2**62 ms held in a float steps by 0.5 s, and a frame's 40 ms after it
        # read as a step back.
        self.step_s = 1 / Fraction(fps)
        self.max_gap_s = Fraction(max_gap_s)  # s: a jump ahead up to this is a pause the video holds
        usable = time_base is not None and time_base > 0
        self.time_base = Fraction(time_base) if usable and time_base is not None else None
        self.base = start_pts
        self.offset = Fraction(0)
        self.last: Fraction | None = None
        self.repeats = 0  # frames in a row whose time did not advance past the one before
        self.skipped = Fraction(0)  # s of the timeline the jumps ahead past max_gap_s left out (joined segments)
        self.held: Fraction | None = None  # s the last frame states it is shown for (its duration), when it states one

    def _seconds(self, pts: int | None) -> Fraction | None:
        if pts is None or self.time_base is None:
            return None
        if self.base is None:
            self.base = pts
        return (pts - self.base) * self.time_base

    def at(self, pts: int | None, packets: int, duration: int | None = None) -> float:
        """Seconds of a frame with `pts` (stream time-base units or None), `packets` demuxed since the last, stating
        `duration` (time-base units; None or 0: none)."""
        raw = self._seconds(pts)
        if self.last is None:
            t = raw if raw is not None and 0 <= raw <= MAX_GAP_S else Fraction(0)
            self.offset = t - raw if raw is not None else Fraction(0)
        elif raw is None:
            t = self.last + self.step_s * max(1, packets)
        else:
            t = raw + self.offset
            if self.last - REORDER_FRAMES * self.step_s <= t < self.last:
                return float(self.last)  # shown out of order: no time of its own, and no frame's time added
            self.repeats = self.repeats + 1 if self.last <= t < self.last + _MIN_STEP else 0
            on_time = self.held is not None and abs(t - self.last - self.held) <= _ON_TIME  # the last frame held
            if t < self.last or (t > self.last + self.max_gap_s and not on_time) or self.repeats > 1:
                jumped = t
                t = self.last + self.step_s * max(1, packets)
                self.offset = t - raw
                if jumped > t:
                    self.skipped += jumped - t
        self.last = t
        self.held = duration * self.time_base if duration and duration > 0 and self.time_base is not None else None
        return float(t)


_MIN_STEP = Fraction(MIN_STEP_S)
_ON_TIME = Fraction(1, 1000)  # s a frame may come off where the one before says it ends and still come on time


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if min(width, height) <= 0:  # FFmpeg refused the size it read (an animation's 30000x30000 canvas)
        raise VideoError("not a readable video (no valid frame size: too large or damaged)")
    if min(width, height) < MIN_SIDE:
        raise VideoError(f"unsupported resolution {width}x{height} (under {MIN_SIDE} px a side: too small to hold "
                         "a face)")
    if width * height > max_pixels:
        side = math.isqrt(max_pixels)
        raise VideoError(f"unsupported resolution {width}x{height} (over {max_pixels:,} pixels, {side}x{side}: "
                         "give a smaller copy, 4K at most)")


def _too_fast(what: str, rate: float) -> VideoError:
    """The VideoError of a video asking the decoder for `rate` pixels a second (`what`: its size and rate)."""
    return VideoError(f"not a video we read: {what} is {rate / 1e6:,.0f} million pixels a second to decode, over "
                      f"the {MAX_PIXEL_RATE / 1e6:,.0f} million of 4K at {MAX_FPS:.0f} fps (a small file made to "
                      "decode huge?)")


def work_budget(max_seconds: float) -> float:
    """Pixels a video of at most `max_seconds` seconds may ask the decoder to decode in all (WORK_PIXEL_RATE)."""
    return WORK_PIXEL_RATE * max_seconds


def _too_much(what: str, max_seconds: float) -> VideoError:
    """The VideoError of a video asking the decoder for more pixels in all than work_budget (`what`: how many)."""
    return VideoError(f"not a video we read: {what}, over the {work_budget(max_seconds) / 1e6:,.0f} million of 4K at "
                      f"{WORK_PIXEL_RATE // (4096 * 2160)} fps for the {max_seconds:.0f} s a video may last (a file "
                      "made to decode huge?)")


def _too_long(max_seconds: float, decoded_s: float) -> VideoError:
    return VideoError(f"longer than the limit of {max_seconds:.0f} s (decoding passed {decoded_s:.0f} s)")


def _luma_thumb(frame: av.VideoFrame) -> np.ndarray:
    step = max(1, max(frame.width, frame.height) // THUMB_CELLS)
    if frame.format.name not in LUMA8_FORMATS:
        # 10-bit (HDR phone video), RGB or palette frames: the first plane is not 8-bit luma. One pixel a cell,
        # as below: a smoothing scaler reads the whole frame (20 ms for a 4096x4096 GIF or APNG frame, five
        # times the decoder's own work), where nearest-neighbour reads the cells' pixels alone (0.3 ms).
        small = frame.reformat(width=max(1, frame.width // step), height=max(1, frame.height // step),
                               format="gray", interpolation="POINT")
        return small.to_ndarray().astype(np.float32)
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return y[::step, : frame.width : step].astype(np.float32)


def shown_streams(container: av.container.InputContainer) -> list[av.video.stream.VideoStream]:
    """The video streams of `container` that are not cover art (an audio file's, a video's: flagged as such, a
    one-picture "video" stream)."""
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The stream a player shows: FFmpeg's choice (av_find_best_stream: the default flag, then the frames seen
    while probing, then the bit rate) among the video streams that are not cover art. Not the first: cover art
    written as a track of its own (a one- or two-picture MJPEG), or an intro, may come before the video."""
    shown = shown_streams(container)
    if not shown and container.streams.video:  # cover art alone: an audio file's picture (was: "no video stream")
        raise VideoError(COVER_OVER_AUDIO if container.streams.audio else "no video stream (only a cover picture)")
    if not container.streams and container.format.name.startswith("mov,"):
        raise VideoError(INDEX_EMPTY)  # an index of no track at all (was: "no video stream", as an audio file's)
    if not shown:
        raise VideoError("no video stream")
    best = container.streams.best("video")
    return next((s for s in shown if best is not None and s.index == best.index), shown[0])


# A music file (MP3, M4A, FLAC) whose one picture is its album's cover, flagged as such: no video, though it has a
# picture. Was "no video stream (only a cover picture: an audio file?)", read as audio only.
COVER_OVER_AUDIO = "not a video (audio with cover art, no video: a music file, whose cover picture is not analysed)"


def declared_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                       start_s: float | None = None) -> float:
    """Seconds the container states, or 0.0 when it states none that makes sense. `start_s`: where the first
    frame shown lies (shown_at), once known; else the container's start time."""
    candidates: list[float] = []
    try:
        if stream.duration is not None and stream.time_base is not None:
            candidates.append(float(stream.duration * stream.time_base))
        if container.duration is not None:
            # Matroska states its end time as its duration (FFmpeg's muxer writes it so): a recording whose clock
            # starts at 10:00:00 is not ten hours long, and the video's length runs from its first frame shown
            # (not the container's start, which an earlier audio stream sets). Other containers state their length.
            late = 0.0
            if "matroska" in container.format.name:
                late = start_s if start_s is not None else (container.start_time or 0) / 1_000_000
            candidates.append(container.duration / 1_000_000 - late)
    except (OverflowError, ZeroDivisionError):
        pass
    return next((d for d in candidates if math.isfinite(d) and d > 0), 0.0)


def start_offset(stream: av.video.stream.VideoStream) -> float:
    """Seconds from a player's 0 to the first frame of `stream`: its start time, as FFmpeg reads it (an MP4's
    edit list, a stream muxed after the audio, a Matroska recording's clock); 0.0 when it states none that
    makes sense. Chromium, whose demuxer is FFmpeg's, shows the first frame there (tested with 0.5 s, 3 s and
    10 hours), while frame times count from the first frame (FrameClock)."""
    try:
        if stream.start_time is None or not stream.time_base:
            return 0.0
        start = float(stream.start_time * stream.time_base)
    except (OverflowError, ZeroDivisionError):
        return 0.0
    return start if math.isfinite(start) and start > 0 else 0.0


def shown_at(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> float:
    """Seconds from a player's 0 to `frame`, the first frame shown (frame times count from it): its own timestamp
    where it has one, which a stream's start time may not be (FFmpeg guesses that from the first timed packet it
    reads: a frame after the first shown, when the head of a Matroska file lies before 0); else start_offset."""
    try:
        if frame.pts is not None and stream.time_base:
            at = float(frame.pts * stream.time_base)
            return at if math.isfinite(at) and at > 0 else 0.0
    except (OverflowError, ZeroDivisionError):
        pass
    return start_offset(stream)


@functools.cache
def _open_options() -> dict[str, str]:
    """FFmpeg's own whitelists (FFmpeg has no blacklist): every demuxer of this build but REFUSED_DEMUXERS, and
    the file protocol alone for whatever a demuxer opens; a file's name is no pattern of other files' names (the
    image demuxer read `img%03d.jpg` as img001.jpg, img002.jpg, ... beside it)."""
    names = {name for format_names in av.formats_available for name in format_names.split(",")}
    return {"format_whitelist": ",".join(sorted(names - REFUSED_DEMUXERS)), "protocol_whitelist": "file",
            "pattern_type": "none"}


def open_file(path: Path, timeout: float | None = None, metadata_errors: str = "strict"
              ) -> av.container.InputContainer:
    """The file at `path` opened for demuxing by any demuxer but REFUSED_DEMUXERS (those raise av.FFmpegError).
    VideoError for a HEIF photo (_check_heif_still), and for a file of more than MAX_VIDEO_STREAMS video streams,
    counted from the container itself: opening probes each stream with a decoder of its own, which keeps a few
    decoded frames (40 MB for each 4K stream, so 50 copies of one took 1.4 GB and FFmpeg's limit of 1,000 streams 40
    GB, in ingest's own process too: the repost digest), so a regular file's streams are counted in its header
    first, no decoder opened (_check_header_streams); then only the first PROBED_STREAMS streams are probed by
    decoders that decode, the rest by decoders that decode nothing (0.7 MB a stream, whatever its size). A pipe is
    copied to a file first (pipe_spool: its refusals are VideoErrors) and opened as that file: counted in the
    opening that probed, its 1,000 streams took 765 MB. Past its header, the file is opened once, but for one with a
    video stream past those, opened again once its video streams are counted within the cap to probe them all as a
    player does (a Matroska stream's start time is known only once a few frames are decoded), and one whose demuxer
    finds its streams only while probing (MPEG program streams: no option reaches those), probed whole at once."""
    # The decoders that probe the streams decode no frame over the decoder's own cap (sizes still come from the
    # headers, and are refused after): a 750 KB PNG of 16000x16000 named .mp4 was decoded whole to be probed,
    # 800 MB in ingest's own process (the repost digest), and 65535x65535 would have been 13 GB.
    probe = {"max_pixels": str(PROBE_MAX_PIXELS)}
    if not path.is_file() and path.exists():  # a pipe, read once: copied to a file, opened as a file is
        with _as_file(path) as file:
            return open_file(file, timeout, metadata_errors)
    _check_heif_still(path)
    _check_mp4_index(path)
    _check_header_streams(path, timeout, metadata_errors)
    try:
        container = av.open(str(path), mode="r", container_options=_open_options(),
                            options={**probe, "skip_frame": "all"},
                            stream_options=[{"skip_frame": "default"}] * PROBED_STREAMS, timeout=timeout,
                            metadata_errors=metadata_errors)
    except ValueError as exc:
        if isinstance(exc, av.FFmpegError) or "stream_options" not in str(exc):
            raise  # not PyAV's refusal of per-stream options where no stream is known before probing
    else:
        _check_streams(container)
        if all(s.index < PROBED_STREAMS for s in shown_streams(container)):
            return container
        container.close()
    whole = av.open(str(path), mode="r", container_options=_open_options(), options=probe, timeout=timeout,
                    metadata_errors=metadata_errors)
    _check_streams(whole)
    return whole


def _check_heif_still(path: Path) -> None:
    """VideoError for a HEIF photo at `path` (HEIC, AVIF: sniff.heif_still), named for what it is before FFmpeg opens
    it: FFmpeg 8 reads an iPhone photo's tiles as one-picture streams of their own (a refusal for too many video
    streams, which names no photo), and a one-item photo as a single still frame."""
    try:
        with open(path, "rb") as f:
            kind = heif_still(f.read(16))
    except OSError:
        return
    if kind:
        how = ", as iPhones save photos" if kind == "HEIC" else ""
        raise VideoError(f"not a video (an image file: {kind}{how}; give the video itself)")


def _check_mp4_index(path: Path) -> None:
    """VideoError for an MP4 at `path` whose index declares more samples than a video holds (mp4_index), read before
    FFmpeg's demuxer builds an entry for each of them; nothing when it cannot be read."""
    try:
        with open(path, "rb") as f:
            said = overdeclared(f, path.stat().st_size)
    except OSError:
        return
    if said:
        raise VideoError(said)


def _check_header_streams(path: Path, timeout: float | None, metadata_errors: str) -> None:
    """VideoError for a file at `path` of more than MAX_VIDEO_STREAMS video streams, counted in its container's header
    before any stream is probed: read with no decoder opened and 32 bytes of packets at most (FFmpeg's least), so
    a stream costs what its demuxer and PyAV allocate for it alone (70 KB: 70 MB for FFmpeg's limit of 1,000,
    where probing them, even by decoders that decode nothing, peaked at 770 MB). A file whose streams are found
    only while probing (an MPEG program stream) shows none here, and one whose header cannot be read so is left,
    with its reason, to the opening that probes: that one counts them."""
    try:
        header = av.open(str(path), mode="r", container_options={**_open_options(), **HEADER_ONLY},
                         options={"codec_whitelist": NO_DECODER}, timeout=timeout, metadata_errors=metadata_errors)
    except DECODE_ERRORS:
        return
    with header:
        _check_streams(header)


# FFmpeg's probing cut to the header: its least probe size (32 bytes), no time analysed, no frame rate probed.
HEADER_ONLY = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0"}
NO_DECODER = "none"  # a decoder whitelist of no decoder's name: probing opens no decoder for any stream


def _check_streams(container: av.container.InputContainer) -> None:
    """VideoError (`container` closed) when it holds more than MAX_VIDEO_STREAMS video streams (cover art aside), or
    more than MAX_STREAMS streams of any kind."""
    videos = len(shown_streams(container))
    if videos > MAX_VIDEO_STREAMS:
        container.close()
        raise VideoError(f"not a video we read: {videos} video streams (a video has one, a few at most; more than "
                         f"{MAX_VIDEO_STREAMS} would take gigabytes of memory to open)")
    streams = len(container.streams)
    if streams > MAX_STREAMS:
        container.close()
        raise VideoError(f"not a video we read: {streams} streams (audio, subtitles or data beside its video: more "
                         f"than {MAX_STREAMS} would take hundreds of megabytes of memory to open)")


def _unopened(path: Path, exc: BaseException) -> str:
    """Why no decoder opened `path`: what it is when it is text (a web page where a video was expected is
    the usual case: a link to the page that plays a video), an MP4 cut short before its index, else the
    decoder's reason."""
    try:
        with open(path, "rb") as f:
            kind = text_kind(f.read(SNIFF_BYTES))
            unindexed = not kind and mp4_lacks_index(f, path.stat().st_size)
    except OSError:
        kind, unindexed = "", False
    if unindexed:
        return ("not a readable video (an MP4 without its index, the moov box: the file is incomplete, cut short "
                "while it was copied, uploaded or downloaded?)")
    if not kind and _box_cut_short(path) == b"moov":
        return INDEX_CUT_SHORT
    if kind == "a web page (HTML)":
        return ("not a video (a web page, HTML: the URL must give the video file itself, not a page that "
                "plays it)")
    if kind in LIST_KINDS:
        return (f"not a video ({kind}, a list of other files or addresses, which are never read: give the "
                "video file itself)")
    if not kind and isinstance(exc, EOFError):  # the demuxer ran out of file before the first frame
        return ENDS_BEFORE_FIRST_FRAME
    return f"not a video ({kind})" if kind else f"not a readable video ({describe(exc)})"


INDEX_CUT_SHORT = ("not a readable video (an MP4 whose index, the moov box, is cut short: the file is incomplete, "
                   "cut short while it was copied, uploaded or downloaded?)")
INDEX_EMPTY = ("not a readable video (an MP4 whose index, the moov box, describes no track: the file is damaged, or "
               "its index was never written?)")
ENDS_BEFORE_FIRST_FRAME = ("not a readable video (the file ends before its first frame: cut short while it was "
                           "copied, uploaded or downloaded?)")


def _raise_if_index_cut(path: Path) -> None:
    """INDEX_CUT_SHORT when the file at `path` is an MP4 whose moov box states more bytes than the file holds. FFmpeg
    reads such an index for what it holds: cut within the video's track, before its handler or its sample
    description, it found no video stream, or one of no codec (was: `no video stream`, as for an audio file, or
    `no decoder for its codec`, for a file cut short)."""
    if _box_cut_short(path) == b"moov":
        raise VideoError(INDEX_CUT_SHORT)


def _box_cut_short(path: Path) -> bytes:
    """sniff.mp4_box_cut_short of the file at `path` (b"" when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return mp4_box_cut_short(f, path.stat().st_size)
    except OSError:
        return b""


def _not_a_video(path: Path, image_format: str) -> str:
    """Why the file at `path`, which FFmpeg's demuxer `image_format` of images opened, is no video: an image, or an
    animated WebP, an animation all the same, which FFmpeg reads as a still and cannot decode."""
    try:
        with open(path, "rb") as f:
            animated = is_animated_webp(f.read(SNIFF_BYTES))
    except OSError:
        animated = False
    if animated:
        return "not a readable video (an animated WebP, which the decoder cannot read: give it as MP4 or GIF)"
    return f"not a video (an image file: {image_format})"


END_PACKETS = 5000  # packets read after a seek to the stated end: a few seconds of any video's last GOP


def _rates(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> tuple[object, ...]:
    """The stream's frame rates, most trusted first. A raw elementary stream (`.h264`, `.hevc`: a demuxer that
    reads no timestamps) has an average rate its demuxer assumed (25 fps), where the bitstream states its own
    (H.264's VUI: 30 fps); elsewhere the average over the container's timestamps comes first."""
    if container.format.flags & av.format.Flags.no_timestamps.value:
        return stream.codec_context.framerate, stream.guessed_rate, stream.average_rate
    return stream.average_rate, stream.guessed_rate


def _ends_within(path: Path, index: int, max_seconds: float) -> bool:
    """Whether the video stream `index` of the file at `path` ends within `max_seconds` of its start, as read
    at its end: a seek to the end the container states, and the packets from there. A header stating more
    than the frames hold (a Matroska file claiming 10 hours that holds 2 s: a lying header, or a file cut
    short) is decoded for what it holds, and the decoded-time cap still holds. False when the end cannot be
    read (no seeking, no timestamps): the stated length is believed."""
    try:
        with open_file(path, timeout=30.0) as container:
            stream = container.streams[index]
            if not container.duration:  # no end stated to seek to (the stream's own length alone)
                return False
            container.seek(container.duration + (container.start_time or 0), backward=True)
            packets = itertools.islice(container.demux(stream), END_PACKETS)
            last = max((p.pts for p in packets if p.pts is not None), default=None)
            if stream.time_base is None:
                return False
            if last is None:  # the seek ran off the file's end: a container of no index (FLV, its onMetaData lying)
                return _read_within(path, index, max_seconds)
            return float((last - (stream.start_time or 0)) * stream.time_base) <= max_seconds
    except DECODE_ERRORS:
        return False


def _read_within(path: Path, index: int, max_seconds: float) -> bool:
    """Whether the video stream `index` of the file at `path` ends within `max_seconds` of its start, its packets
    read from the start (never decoded) until one lies past the limit: max_seconds of packets at most. False
    for a stream of no timed packet."""
    with open_file(path, timeout=30.0) as container:
        stream = container.streams[index]
        start, seen = stream.start_time or 0, False
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            if float((packet.pts - start) * stream.time_base) > max_seconds:
                return False
            seen = True
        return seen


def open_video(path: Path, max_pixels: int = 4096 * 4096, max_seconds: float = 3600.0) -> tuple[
        av.container.InputContainer, VideoInfo]:
    """Opens `path` and checks what the container states; VideoInfo's size is the coded one here."""
    with _as_file(path) as path:  # the checks below may open it again (its end read by a seek)
        return _open_video_file(path, max_pixels, max_seconds)


def _open_video_file(path: Path, max_pixels: int, max_seconds: float
                     ) -> tuple[av.container.InputContainer, VideoInfo]:
    try:
        container = open_file(path, timeout=30.0)
    except DECODE_ERRORS as exc:
        raise VideoError(_unopened(path, exc)) from exc
    with _closed_on_failure(container, "not a readable video"):
        if container.format.name in IMAGE_FORMATS or container.format.name.endswith("_pipe"):
            raise VideoError(_not_a_video(path, container.format.name))
        try:
            stream = video_stream(container)
        except VideoError:
            _raise_if_index_cut(path)
            raise
        ctx = stream.codec_context
        if ctx is None:
            _raise_if_index_cut(path)
            raise VideoError("not a readable video (no decoder for its codec)")
        info = VideoInfo(ctx.width, ctx.height, sane_fps(*_rates(container, stream)),
                         declared_duration(container, stream), ctx.name)
        _check_size(info.width, info.height, max_pixels)
        rate = info.width * info.height * info.fps
        if rate > MAX_PIXEL_RATE:
            raise _too_fast(f"{info.width}x{info.height} at {info.fps:.0f} fps", rate)
        if (info.duration_s > max_seconds and not _ends_within(path, stream.index, max_seconds)
                and not (not _indexed(container) and _played_within(path, stream.index, max_seconds, info.fps))):
            raise VideoError(f"{info.duration_s:.0f} s is longer than the limit of {max_seconds:.0f} s")
        # The total its header states, when it states a length within the cap (past it, its end was read within the
        # cap: its length is not known, and decoding holds the total).
        if info.duration_s <= max_seconds and rate * info.duration_s > work_budget(max_seconds):
            raise _too_much(f"{info.width}x{info.height} at {info.fps:.0f} fps for {info.duration_s:.1f} s is "
                            f"{rate * info.duration_s / 1e6:,.0f} million pixels to decode", max_seconds)
    return container, info


@contextlib.contextmanager
def _closed_on_failure(container: av.container.InputContainer, what: str) -> Iterator[None]:
    """Closes `container` when the block fails, then raises: a VideoError as it is, a decoder's error as the
    VideoError "`what` (the error)". On success the container stays open: the caller reads on."""
    try:
        yield
    except VideoError:
        container.close()
        raise
    except DECODE_ERRORS as exc:
        container.close()
        raise VideoError(f"{what} ({describe(exc)})") from exc


def max_gap(container: av.container.InputContainer, declared_s: float) -> float:
    """Seconds timestamps may jump ahead and still be a pause the video holds. MP4/MOV give each frame its time
    from the file's index, and Matroska/WebM in each block, written by the muxer, which states the length: a jump
    within the stated length is a still held (a screen recording or a slideshow stores no frame while nothing
    moves), never joined segments. Elsewhere, or with no length stated (a live recording), MAX_GAP_S."""
    return max(MAX_GAP_S, declared_s) if _indexed(container) else MAX_GAP_S


def _indexed(container: av.container.InputContainer) -> bool:
    """Whether the muxer of `container` times its frames within the length it states (max_gap)."""
    return container.format.name.startswith("mov,") or "matroska" in container.format.name


def _played_within(path: Path, index: int, max_seconds: float, fps: float) -> bool:
    """Whether the video stream `index` of the file at `path`, of a container whose jumps in time are joins
    (max_gap: a transport stream's segments), plays within `max_seconds` once each jump past MAX_GAP_S (or back)
    counts one frame, as FrameClock counts it: its packets' decode times read from the start (never decoded) until
    they pass the limit. A 4 s stream joined across a 20-minute jump states 1204 s, and was refused so."""
    step, gap = 1 / Fraction(fps), Fraction(MAX_GAP_S)
    played, last, packets = Fraction(0), None, 0
    with open_file(path, timeout=30.0) as container:
        stream = container.streams[index]
        if not stream.time_base:
            return False
        for packet in container.demux(stream):
            at = packet.dts if packet.dts is not None else packet.pts
            if at is None:
                continue
            packets += 1
            if packets > max_seconds * MAX_FPS:  # times that never advance: decoding's own packet cap (_decoded)
                return False
            now = at * Fraction(stream.time_base)
            if last is not None:
                played += now - last if 0 <= now - last <= gap else step
                if played > max_seconds:
                    return False
            last = now
    return last is not None


def _decoded(container: av.container.InputContainer, stream: av.video.stream.VideoStream, fps: float,
             max_pixels: int, max_seconds: float, max_gap_s: float = MAX_GAP_S, clock: FrameClock | None = None,
             read: Read | None = None) -> Iterator[tuple[av.VideoFrame, float]]:
    """Every decoded frame with its time in seconds; raises VideoError past the duration cap (decoded time,
    or packets at MAX_FPS when timestamps never advance). A packet the decoder refuses is skipped when data follows
    it (damage inside the file: the decoder picks up again at the next key frame, as players do), counted in `read`
    with the first one's reason (`read` also notes where the packets read end); the decoder's exception passes
    through after MAX_BAD_PACKETS in a row (garbage, not damage), and ends the frames quietly when nothing follows
    (the last packet of a file cut short)."""
    # Slice threads only (one thread for most phone video): ingest decodes several videos at once and the
    # identity workers fill the other core, so FFmpeg's frame threads only added their synchronisation: 15%
    # more CPU for the same frames (20 dev videos: 5.0 against 4.3 CPU s).
    stream.thread_type = "SLICE"
    # Frames no other frame refers to (most B-frames) are skipped by the decoder: a third less work,
    # and cuts are still seen to within two frames. Not below SKIP_MIN_FPS: there a frame stands for a tenth
    # of a second or more (a slideshow, a time-lapse), and skipping one skipped that time: a video of one
    # frame a second lost 3 of its 10 seconds, sampled "once a second". Only from the first frame shown: that
    # one may be a B-frame (a Matroska file's head before 0 holds the frames it refers to), and skipped, the
    # video started a frame late and a frame short.
    skipping = fps >= SKIP_MIN_FPS
    # The decoder refuses absurd frame sizes before allocating them (a mid-stream change included).
    stream.codec_context.options = {"max_pixels": str(max_pixels * DECODER_PIXEL_FACTOR)}
    # A WebM's alpha is decoded by libvpx (colour.alpha_decoder), FFmpeg's own VP8/VP9 decoders dropping it.
    alpha = alpha_decoder(stream)
    if alpha is not None:
        alpha.options = dict(stream.codec_context.options)
    clock = clock or FrameClock(fps, stream.time_base, stream.start_time, max_gap_s)
    max_packets = max_seconds * MAX_FPS
    packets = since_frame = 0
    # Pixels decoded, held to work_budget in all, and to MAX_PIXEL_RATE of the time they cover (and a second more): a
    # stated rate or length can lie, and frames held at one instant (shown out of order, FrameClock) add frames but no
    # time.
    pixels, budget = 0, work_budget(max_seconds)
    # Untimed packets at the stream's head (up to LEAD_PACKETS), held until a packet shows whether timestamps
    # follow: then the frames without one before the first with one lie before the video's start (Matroska's
    # blocks before 0, from -output_ts_offset -2 or a B-frame delay kept negative), where a player shows none
    # (Chromium drops a packet without a time): counted, they made 1 s of video 3 s, every time 2 s late.
    lead: list[av.Packet] | None = None if container.format.flags & av.format.Flags.no_timestamps.value else []
    lead_bytes = 0
    hidden = False  # frames without a time are dropped until the first frame with one
    # The last packet's refusal, held until a packet of data shows that more follows (damage inside the file: skipped)
    # or none does (a file cut short). Was: raised at once, so one damaged packet of a long video ended it there
    # (`decoding stopped at 1.0 s of the 4.0 s ... damaged: invalid data`), the frames after it never seen.
    failed: BaseException | None = None
    in_a_row = 0
    demuxed = container.demux(stream)
    for packet in demuxed:
        if failed is not None and packet.size:
            in_a_row += 1
            if in_a_row >= MAX_BAD_PACKETS:
                raise failed
            if read is not None:
                read.skipped += 1
                read.reason = read.reason or describe(failed)
            failed = None
        if packet.size:
            packets += 1
            if read is not None and packet.pos is not None and packet.pos >= 0:
                read.end = max(read.end, packet.pos + packet.size)
            since_frame += 1
            if packets > max_packets:
                raise _too_long(max_seconds, packets / MAX_FPS)
        if lead is not None:
            if packet.pts is None and packet.size and len(lead) < LEAD_PACKETS and lead_bytes < LEAD_BYTES:
                lead.append(packet)
                lead_bytes += packet.size
                continue
            batch, hidden, lead = [*lead, packet], bool(lead) and packet.pts is not None, None
        else:
            batch = [packet]
        for queued in batch:
            try:
                frames = alpha.decode(queued) if alpha is not None else queued.decode()
            except DECODE_ERRORS as exc:
                failed = exc
                continue
            if queued.size and failed is None:
                in_a_row = 0
            for frame in frames:
                if hidden and frame.pts is None:
                    since_frame = 0
                    continue
                hidden = False
                if skipping:
                    stream.codec_context.skip_frame = "NONREF"
                    skipping = False
                t = clock.at(frame.pts, since_frame, frame.duration)
                since_frame = 0
                if t > max_seconds:
                    raise _too_long(max_seconds, t)
                pixels += frame.width * frame.height
                if pixels > MAX_PIXEL_RATE * (t + 1.0):
                    raise _too_fast(f"decoding {pixels:,} pixels in {t:.1f} s of frames", pixels / max(t, 1.0))
                if pixels > budget:
                    raise _too_much(f"decoding passed {pixels / 1e6:,.0f} million pixels at {t:.1f} s of frames",
                                    max_seconds)
                yield frame, t
    # A refusal of the last packet of data (`failed`, left): a file cut short, ending where its data ends.


def sample_frames(path: Path, sampler: ShotSampler, max_pixels: int = 4096 * 4096,
                  max_seconds: float = 3600.0, scratch: Path | None = None, min_free_bytes: int = 0
                  ) -> tuple[VideoInfo, Iterator[SampledFrame]]:
    """Opens `path` and returns its info and a lazy iterator of the sampled frames (BGR, full size, turned
    upright by the display matrix). The first frame is decoded here.

    `span_s` of each sampled frame is the time until the next sampled frame of a later time (or the end). Raises
    VideoError (also from the iterator) when the file is not a decodable video; a file damaged after some
    frames yields those frames. `scratch`: where a pipe is copied (pipe_spool.as_file: the caller's own folder,
    kept `min_free_bytes` from full; None: the system's temporary folder).
    """
    with _as_file(path, scratch, min_free_bytes) as path:  # a pipe read as a file: its streams counted first
        return _sample_file(path, sampler, max_pixels, max_seconds)


@contextlib.contextmanager
def _as_file(path: Path, scratch: Path | None = None, min_free_bytes: int = 0) -> Iterator[Path]:
    """pipe_spool.as_file, its refusals VideoErrors."""
    try:
        with as_file(path, scratch, min_free_bytes) as file:
            yield file
    except PipeRefused as exc:
        raise VideoError(str(exc)) from exc


def _sample_file(path: Path, sampler: ShotSampler, max_pixels: int, max_seconds: float
                 ) -> tuple[VideoInfo, Iterator[SampledFrame]]:
    container, probed = open_video(path, max_pixels, max_seconds)
    stream = video_stream(container)
    clock = FrameClock(probed.fps, stream.time_base, stream.start_time, max_gap(container, probed.duration_s))
    read = Read(path)
    decoded = _decoded(container, stream, probed.fps, max_pixels, max_seconds, clock=clock, read=read)
    with _closed_on_failure(container, "cannot decode"):
        first = next(decoded, None)
        if first is None:
            cut = _box_cut_short(path)  # an MP4 cut inside its index, or before its first frame's bytes
            holds = bool(cut) or _holds_packets(path, stream.index)
            # A track whose index lists frames, none of them in the file: an MP4 of its index first (faststart) cut
            # right after it, its media box gone whole (was: `its video track holds no frame ...: an audio file?`).
            cut = cut or (b"mdat" if not holds and stream.frames else b"")
            raise VideoError(INDEX_CUT_SHORT if cut == b"moov" else ENDS_BEFORE_FIRST_FRAME if cut else
                             _no_frame(probed.duration_s) if not holds else "no decodable frames")
        _check_size(first[0].width, first[0].height, max_pixels)
        width, height = shown_size(first[0], frame_aspect(stream, first[0]), max_pixels)
    start_s = shown_at(first[0], stream)
    info = VideoInfo(width, height, probed.fps, declared_duration(container, stream, start_s), probed.codec,
                     start_s=start_s, note=display_note(display_matrix(first[0])))
    cut = container.format.name == "gif" and path.is_file() and _gif_cut_short(path)
    if "matroska" in container.format.name and _matroska_whole(path):
        cut = None  # whole: a length stated past its frames is a header's mistake, not frames missing
    return info, _sampled(container, stream, chain([first], decoded), sampler, info, max_pixels, cut, clock,
                          StillHeld(first[0].pts, max_seconds), read)


HELD_MIN_S = 1.0  # s the audio must play past a video's one frame for that frame to be a picture held over it


@dataclass(frozen=True)
class StillHeld:
    """What tells a picture held over its audio from a still: the pts of the video's first frame, and the cap."""

    pts: int | None
    max_seconds: float

    def seconds(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                decoded_s: float) -> float:
        """Seconds from the video's one frame to where its audio ends, when that is HELD_MIN_S or more past the
        `decoded_s` seconds of the frame and the video track states no more than its frame (an MP4 track stating 4 s
        of which one frame is left is a file cut short); else 0.0. A player shows the picture for as long as the
        audio plays: a still with music, a common social video. Read by seeking `container` (its video demuxed to
        the end) back to its start and demuxing its audio alone, never decoded; raises VideoError past
        `max_seconds`."""
        audio = list(container.streams.audio)
        if not audio or self.pts is None or not stream.time_base:
            return 0.0
        if container.format.name.startswith("mov,") and stream.duration and ended_early(
                float(stream.duration * stream.time_base), decoded_s):
            return 0.0
        at, end = self.pts * stream.time_base, None
        try:
            container.seek(0)
            for packet in itertools.islice(container.demux(*audio), int(self.max_seconds * 1000)):
                if packet.pts is not None and packet.size and packet.time_base:
                    ends = (packet.pts + (packet.duration or 0)) * packet.time_base
                    end = ends if end is None else max(end, ends)
        except DECODE_ERRORS:
            return 0.0
        held = float(end - at) if end is not None else 0.0
        if held > self.max_seconds:
            raise _too_long(self.max_seconds, held)
        return held if held >= decoded_s + HELD_MIN_S else 0.0


@dataclass
class Read:
    """What decoding the file at `path` met on its way (_decoded): the damaged packets it skipped and why the first
    was refused, and the byte after the last packet of data read (-1: none known)."""

    path: Path
    skipped: int = 0
    reason: str = ""
    end: int = -1

    def clusters_unread(self) -> bool:
        """Whether the Matroska file holds frames past where the packets read end (sniff.matroska_unread; False when it
        cannot be read)."""
        if self.end < 0:
            return False
        try:
            with open(self.path, "rb") as f:
                return matroska_unread(f, self.end)
        except OSError:
            return False


def audio_outlasts(container: av.container.InputContainer, decoded_s: float) -> bool:
    """Whether `container` states a length HELD_MIN_S or more past the `decoded_s` seconds of its video's frames and
    holds audio: only then is its audio read to its end (StillHeld), a demux of the whole file."""
    try:
        stated = container.duration / 1_000_000 if container.duration else 0.0
    except (OverflowError, ZeroDivisionError):
        return False
    return bool(container.streams.audio) and math.isfinite(stated) and stated >= decoded_s + HELD_MIN_S


def _shown_for(frame: av.VideoFrame, stream: av.video.stream.VideoStream, longest: float) -> float:
    """Seconds `frame` states it is shown for (its duration), at most `longest`; 0.0 when it states none."""
    try:
        seconds = float(frame.duration * stream.time_base) if frame.duration and stream.time_base else 0.0
    except (OverflowError, ZeroDivisionError):
        return 0.0
    return min(seconds, longest) if math.isfinite(seconds) and seconds > 0 else 0.0


def _holds_packets(path: Path, index: int) -> bool:
    """Whether the stream `index` of the file at `path` holds a packet of data (True when it cannot be read: no
    claim)."""
    try:
        with open_file(path, timeout=30.0) as container:
            return any(packet.size for packet in container.demux(container.streams[index]))
    except (VideoError, *DECODE_ERRORS):
        return True


def _no_frame(declared_s: float) -> str:
    """Why a video stream of no packet at all is no video, its container stating `declared_s` seconds (0: none)."""
    stated = f", though the file states {declared_s:.1f} s" if declared_s else ""
    return f"not a video (its video track holds no frame{stated}: an audio file, or a recording that got no picture?)"


def _matroska_whole(path: Path) -> bool:
    """sniff.matroska_whole of the file at `path` (False when it cannot be read: no claim)."""
    try:
        with open(path, "rb") as f:
            return matroska_whole(f, path.stat().st_size)
    except OSError:
        return False


def _gif_cut_short(path: Path) -> bool:
    """Whether the GIF at `path` ends before its end marker (False when it cannot be read: no claim of damage).
    Its blocks are walked: bytes after the marker are no damage."""
    try:
        with open(path, "rb") as f:
            return gif_lacks_trailer(f)
    except OSError:
        return False


def _sampled(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
             decoded: Iterator[tuple[av.VideoFrame, float]], sampler: ShotSampler, info: VideoInfo,
             max_pixels: int, cut: bool | None = False, clock: FrameClock | None = None,
             still: StillHeld | None = None, read: Read | None = None) -> Iterator[SampledFrame]:
    """`cut`: the file is known to be cut short where its container states no length (a GIF without its
    trailer): the warning says so; None: known whole (a Matroska file holding its whole segment), so frames ending
    before the length it states are a header stating more than it holds (10 hours for 20 s), not a file cut short.
    `clock`: the frames' clock, whose jumps left out of the timeline are no part of the length the container states
    (a transport stream of joined segments states the span of its times). `still`: how to read a video of one frame
    as a picture held over its audio (a still with music): that frame, sampled once, stands for the audio's length,
    which is the video's. `read`: what _decoded met (damaged packets it skipped, where its packets end), said in the
    warning."""
    step = 1.0 / info.fps
    # s the last frame is shown: its own duration where it states one (a slideshow's picture every 5 s, where the
    # frame rate, clamped to 1..MAX_FPS, gave 1 s: 10 pictures of 50 s read as 46 s and "the file is cut short"), at
    # most a pause the video may hold; else a frame at its rate.
    longest = float(max(Fraction(MAX_GAP_S), clock.max_gap_s if clock is not None else 0, Fraction(info.duration_s)))
    last_step = step
    # The sampled frames of the latest time, waiting for a later one: a frame stands for the time until the next
    # sampled frame of a later time, so frames that share a time (equal timestamps, as at a join) share a span,
    # never 0 for all but the last of them (which gave a face seen in the first no time on screen).
    pending: list[SampledFrame] = []
    count = 0
    size = (0, 0)
    last_t = 0.0
    damage = ""
    concealed = 0  # frames the decoder flagged corrupt: it filled in what it could not read
    try:
        while True:
            try:
                item = next(decoded, None)
                if item is None:
                    break
                frame, t = item
                if (frame.width, frame.height) != size:  # checked again on every change of size
                    _check_size(frame.width, frame.height, max_pixels)
                    size = (frame.width, frame.height)
                count += 1
                concealed += frame.is_corrupt
                last_t = t
                last_step = _shown_for(frame, stream, longest) or step
                decision = sampler.feed(t, _luma_thumb(frame))
                if not decision.sample:
                    continue
                pixels = _bgr(frame, frame_aspect(stream, frame), max_pixels)
                bgr = np.ascontiguousarray(upright(pixels, display_matrix(frame)))
            except DECODE_ERRORS as exc:
                if count <= 1:
                    raise VideoError(f"cannot decode ({describe(exc)})") from exc
                damage = describe(exc)
                break  # a truncated or damaged file: what was decoded before the damage still counts
            current = SampledFrame(count - 1, t, decision.shot, bgr)
            if pending and t > pending[0].timestamp_s:
                for done in pending:
                    done.span_s = t - done.timestamp_s
                    yield done
                pending = []
            pending.append(current)
        decoded_s = last_t + last_step
        if clock is not None and clock.skipped and info.duration_s > 0:
            # The stated span holds the jumps the clock left out: compared without them (was: 4 s of a transport
            # stream joined across a 30 s jump warned "decoding stopped at 4.0 s of the 34.0 s ... cut short").
            info.duration_s = max(decoded_s, info.duration_s - float(clock.skipped))
        held = (still.seconds(container, stream, decoded_s)
                if still and not damage and (count == 1 or audio_outlasts(container, decoded_s)) else 0.0)
        if held and count == 1:  # one picture shown while the audio plays: analysed once, as long as its audio
            info.duration_s = held
            for done in pending:
                done.span_s = max(step, held - done.timestamp_s)
                yield done
            return
        if held:
            # Audio playing on past the last frame (a slideshow of a few pictures over a song, as montage tools write
            # it: `-framerate 1/2 -i img%d.jpg -i song.m4a`): a player shows the last picture until the audio ends,
            # so it is on screen, and the video lasts, that long. Was: as long as the video track (8 s of a 12 s post).
            last_step, decoded_s = held - last_t, held
            info.duration_s = held
        if count <= 1 and ended_early(info.duration_s, decoded_s):  # a video cut short, not a still
            raise VideoError(f"not a readable video (one frame of the {info.duration_s:.1f} s the file states: "
                             "the file is cut short)")
        if count <= 1:
            raise VideoError("not a video (a single still frame)")
        short = ended_early(info.duration_s, decoded_s)
        skipped, reason = (read.skipped, read.reason) if read is not None else (0, "")  # known once all is decoded
        if skipped and short and not damage:  # frames missing after packets skipped, not a file cut short
            damage = f"{reason} in {skipped} packet{'s' if skipped > 1 else ''}, no key frame after"
        if short and cut is None and not damage and read is not None and read.clusters_unread():
            # A whole Matroska file whose demuxer stopped at damaged bytes, its later clusters unread (was: taken for a
            # header stating more than its frames, the rest of the video dropped without a word).
            damage = f"its data could not be read on after byte {read.end:,}"
            cut = False
        if damage or (short and cut is not None):
            stated = f" of the {info.duration_s:.1f} s the file states" if info.duration_s > 0 else ""
            info.warning = (f"decoding stopped at {decoded_s:.1f} s{stated} "
                            f"({'damaged: ' + damage if damage else 'the file is cut short'})")
            info.duration_s = decoded_s
        elif short or last_t > info.duration_s or (decoded_s > info.duration_s and not _indexed(container)):
            # A whole file stating more than it holds; none stated, or less. A container that indexes no frame's time
            # (MPEG-TS) states the span of its packets' times, its last frame given a length from the stream's stated
            # rate: 4 pictures 10 s apart, each stating its 10 s, said 32 s (0.5 fps). Their 40 s are the video's.
            info.duration_s = decoded_s
        if cut and not info.warning:
            info.warning = f"decoding stopped at {decoded_s:.1f} s (the file is cut short: it lacks its end marker)"
        if skipped and not info.warning:
            # Damaged packets skipped: what they held, and the frames that refer to them until the next key frame,
            # is missing (was: decoding stopped at the first of them, and the rest of the video was never seen).
            info.warning = (f"{skipped} damaged packet{'s' if skipped > 1 else ''} skipped ({reason}: the frames until "
                            "the next key frame may be missing, faces in them missed)")
        if concealed:
            # Damaged bytes the decoder papered over (smeared or grey pictures): a done row that found few faces
            # or none says why, as a cut-short one does.
            info.warning = "; ".join(filter(None, [info.warning, (
                f"{concealed} of {count} frames damaged (the decoder filled in what it could not read: faces "
                f"in them may be missed)")]))
        for done in pending:
            done.span_s = max(last_step, last_t - done.timestamp_s + last_step)
            yield done
    finally:
        container.close()
