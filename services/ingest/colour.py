"""A sampled frame's pixels in BGR as ffmpeg's own command converts them, and as a player shows a picture with
transparency: the colour conversion of video.py, apart from its decoding.

- YUV to RGB by the frame's matrix (BT.601, BT.709, ...) and range (limited or full), as one progressive picture,
  chroma upsampled by swscale's bicubic: what `ffmpeg -i X -pix_fmt rgb24` gives (FFmpeg 5.1's command, the
  reference here). PyAV's swscale (FFmpeg 8) also reads the frame's chroma siting and converts an interlaced frame
  field by field, and PyAV upsamples bilinearly by default: 10-bit frames then lay 5 levels (mean absolute,
  sharp colour edges) off ffmpeg's, interlaced ones 5 too, 8-bit progressive ones none (swscale's unscaled path
  reads neither). Neither Chromium nor ffmpeg deinterlaces by default: the fields stay woven, as a player shows them.
- A picture with an alpha channel composited over black, the player's background (the page's style.css,
  `.player video`), as Chromium composites a WebM's transparency over the element's background. A VP8/VP9 stream's
  alpha is stored beside each frame (Matroska's BlockAdditional), which FFmpeg's own decoders ignore: such a
  stream is decoded by libvpx's (alpha_decoder).
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from services.ingest.tonemap import BT2020_PRIMARIES, is_hdr, sdr_rgb

# Decoders that decode a WebM's alpha, by the stream's codec; FFmpeg's own vp8 and vp9 drop it.
ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}
INTERPOLATION = "BICUBIC"  # swscale's flags in ffmpeg's command (its default sws_flags)
# 8-bit planar YUV, whose bgr24 from swscale is its rgb24 with red and blue swapped, pixel for pixel
BGR_AS_RGB = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuv444p"})


def alpha_decoder(stream: av.video.stream.VideoStream) -> av.CodecContext | None:
    """A decoder giving `stream`'s frames with their alpha (yuva420p), or None where the stream's own decoder does:
    no alpha stated (Matroska's alpha_mode tag), a codec other than VP8/VP9, or no libvpx in this FFmpeg."""
    tags = {str(k).lower(): str(v).strip() for k, v in (stream.metadata or {}).items()}
    name = ALPHA_DECODERS.get(stream.codec_context.name if stream.codec_context else "")
    if tags.get("alpha_mode") != "1" or name is None or name not in av.codecs_available:
        return None
    return av.CodecContext.create(name, "r")


def has_alpha(frame: av.VideoFrame) -> bool:
    """Whether `frame`'s pixel format carries an alpha channel (yuva*, bgra, rgba, ...; a GIF's palette is none)."""
    return any(c.is_alpha for c in frame.format.components)


def to_bgr(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """`frame` as BGR (height, width, 3) uint8, scaled to `width` x `height` px (its pixels at their aspect ratio),
    a transparent one composited over black."""
    source = _progressive(frame) if frame.format.name.startswith(("yuv", "nv")) else frame
    if is_hdr(frame.color_trc) and not has_alpha(frame):
        # PQ (HDR10 phone video): read as SDR, faces came out washed out and dim to the detector (tonemap.py).
        rgb48 = source.reformat(width=width, height=height, format="rgb48le", interpolation=INTERPOLATION).to_ndarray()
        return cv2.cvtColor(sdr_rgb(rgb48, frame.color_primaries == BT2020_PRIMARIES), cv2.COLOR_RGB2BGR)
    # RGB turned to BGR, not swscale's BGR: its writers of the two round a 10-bit frame a level apart, and rgb24 is
    # the reference (8-bit planar YUV comes out the same either way: BGR_AS_RGB).
    if not has_alpha(frame):
        if frame.format.name in BGR_AS_RGB and (width, height) == (frame.width, frame.height):
            # Phone video: swscale writes the very pixels of rgb24 in BGR order (bench/colour_paths.py: every frame
            # of dev's 200 videos), without a frame-sized conversion after (0.4 CPU ms for 720x1280). Not NV12:
            # swscale's bgr24 of it differs from its rgb24.
            return source.reformat(format="bgr24", interpolation=INTERPOLATION).to_ndarray()
        rgb = source.reformat(width=width, height=height, format="rgb24", interpolation=INTERPOLATION).to_ndarray()
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # 0.3 ms for 720x1280, where numpy's reversed copy took 5
    return over_black(source.reformat(width=width, height=height, format="bgra", interpolation=INTERPOLATION)
                      .to_ndarray())


def over_black(bgra: np.ndarray) -> np.ndarray:
    """`bgra` (H, W, 4) uint8 composited over black, as BGR (H, W, 3) uint8: each colour times its alpha / 255,
    rounded. An opaque picture (an animation's canvas, most often) is only stripped of its alpha: 15 ms for 4096 x
    4096, where compositing it took a second in numpy."""
    bgr = cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)
    alpha = bgra[:, :, 3]
    if alpha.min() == 255:
        return bgr
    return cv2.multiply(bgr, cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR), scale=1 / 255)


def _progressive(frame: av.VideoFrame) -> av.VideoFrame:
    """A copy of the YUV `frame`'s pixels with its matrix and range alone: no interlacing flag, no chroma siting (PyAV
    sets neither on a frame), so that swscale converts it as ffmpeg's command does."""
    copy = av.VideoFrame(frame.width, frame.height, frame.format.name)
    for mine, theirs in zip(copy.planes, frame.planes, strict=True):
        row = min(mine.line_size, theirs.line_size)
        into = np.frombuffer(mine, np.uint8).reshape(mine.height, mine.line_size)
        into[:, :row] = np.frombuffer(theirs, np.uint8).reshape(theirs.height, theirs.line_size)[:, :row]
    copy.colorspace, copy.color_range = frame.colorspace, frame.color_range
    return copy
