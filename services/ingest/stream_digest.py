"""A digest of a video's coded picture stream, read without decoding it: the same stream under other bytes
(remuxed into another file or container, with other metadata or another audio track) has the same digest.

Identical coded pictures decode to identical frames, so a video whose digest is that of an analysed one is a
repost of it, with no doubt and no tolerance: its people are the original's. This is the cheap first look of
the repost check (a demux, ~5 ms for a short video, against ~0.5 s to decode it); the perceptual signature
(signature.py) still catches re-encodes, whose coded stream differs.

What the digest covers:
- the codec (the format's name, as FFmpeg names its codec id: `av1`, never the decoder's, `libdav1d`), the coded
  size, and the display matrix of the first frame (a remux that turns the picture is another video to look at: its
  faces are elsewhere); for a stream of one picture, or pictures whose audio plays on a second or more past
  their last, the length its audio holds them for (video.StillHeld);
- where the first frame shown lies after the stream's first packet, when not at it: an MP4 whose edit list hides
  the head of the stream (a trim with `-c copy`) holds every packet of its original, yet a player starts it
  later and shows it shorter, so its times are not the original's (it is decoded and analysed, or recognised
  by its frames);
- where the last frame shown ends, when packets follow it that a player hides: an MP4 whose edit list ends before
  its stream (a trim of the end by editing the index alone) holds every packet of its original, yet a player
  stops it there and shows it shorter (FFmpeg flags the packets past the edit discarded, and drops their frames);
- every video packet in decode order: its presentation time in milliseconds from the stream's first one
  (containers keep time in other units; a millisecond is below any frame rate's step), whether it is a key
  frame, and its coded bytes. A packet shown before the first one (an open GOP's leading pictures after a cut at
  its key frame, which refer to a GOP the file lacks and which the decoder drops) is hashed without its time:
  Matroska cannot keep a time before its first packet's, so FFmpeg reads none there, where MPEG-TS and MP4 keep
  it (the same cut had one digest in MP4 and MPEG-TS and another in Matroska). For H.264 and HEVC the bytes are
  taken NAL unit by NAL unit, without the start codes or length prefixes that differ between MP4/MKV
  (length-prefixed) and MPEG-TS (Annex B), without trailing zero bytes (no NAL unit ends with one; ffmpeg leaves
  one on each HEVC packet it remuxes from MPEG-TS into MP4 or Matroska), and without the units a remuxer adds or
  drops (access unit delimiters, filler, parameter sets, which MP4 keeps out of band: the out-of-band and in-band
  parameter sets are hashed as one sorted set instead).

Anything the demuxer cannot read gives no digest: the video then takes the usual path, which names the
problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from services.ingest.video import (
    DECODE_ERRORS,
    PROBE_MAX_PIXELS,
    StillHeld,
    VideoError,
    audio_outlasts,
    declared_duration,
    display_matrix,
    display_note,
    ended_early,
    open_file,
    sane_fps,
    shown_at,
    video_stream,
)

NAL_CODECS = frozenset({"h264", "hevc"})
# NAL unit types left out of the picture bytes: H.264 SEI is kept (it is in the stream whatever the container),
# access unit delimiter 9, end of sequence/stream 10/11, filler 12, parameter sets 7/8/13/15 (hashed apart);
# HEVC (type in bits 1-6): VPS/SPS/PPS 32-34 and SEI 39/40 (apart: an MP4's hvcC may carry the encoder's SEI
# out of band, MPEG-TS in band), AUD 35, end of sequence/bitstream 36/37, filler 38.
H264_SKIP = frozenset({9, 10, 11, 12})
H264_PARAMS = frozenset({7, 8, 13, 15})
HEVC_SKIP = frozenset({35, 36, 37, 38})
HEVC_PARAMS = frozenset({32, 33, 34, 39, 40})
MAX_PACKETS = 1_000_000  # a stream claiming more (an hour at 240 fps is 864,000) gets no digest
MAX_HELD_S = 36_000.0  # s of audio read past a one-picture video at most (decoding holds the duration cap)


@dataclass(frozen=True)
class CodedStream:
    """What one opening of a file tells of its video stream without decoding it: `digest` (stream_digest, None when
    it cannot be read cheaply), `start_s` (digest_and_start) and `note`, the VideoInfo.note decoding it would give
    (an odd display matrix, which the digest covers: a copy of a noted video is noted the same)."""

    digest: str | None
    start_s: float = 0.0
    note: str = ""
    # The digest as releases before the hidden head and end were digested wrote it (their rows are still stored),
    # when it is not `digest`: a stream whose first shown frame lies after its first packet (an edit list hiding
    # the head, an open GOP's leading frames), or whose edit list hides its end. Alone it would take such a trim
    # for its source: a match stands only for a stored video that lasts as long (pipeline._digested_before).
    legacy: str | None = None
    # Other digests older releases wrote, when a stream has more than one (legacies()): the digest of a stream with a
    # hidden head whose leading pictures are shown before its first packet, as the release before this one took
    # them (timed).
    older: tuple[str, ...] = ()
    # With `legacy`: the seconds decoding would give it, read from the demux (the length the container states, as
    # video.declared_duration reads it, or where the frames end when later; 0.0 when they end well short of it: a
    # file cut short), the frame rate decoding would take, and whether an edit list hides packets (a trim).
    # A stream that hides none and states its length is matched by `legacy` without decoding it.
    stated_s: float = 0.0
    fps: float = 0.0
    hides: bool = False

    def legacies(self) -> tuple[str, ...]:
        """Every digest an older release may have stored for this stream, `legacy` first; () when none differs."""
        return (self.legacy, *self.older) if self.legacy is not None else ()


def stream_digest(path: Path) -> str | None:
    """The digest ("codec:hex") of the video stream of the file at `path` that is decoded (video.video_stream:
    never cover art), or None when it cannot be read cheaply (no video stream, damaged, absurd)."""
    return digest_and_start(path)[0]


def digest_and_start(path: Path) -> tuple[str | None, float]:
    """(stream_digest, start in seconds) of the file at `path`, read through one opening of it; (None, 0.0) when
    it cannot be read cheaply. The start is where a player shows the first frame (video.shown_at, as decoding
    the video measures it, ffprobe's best_effort_timestamp of that frame): a remux may put the same stream
    elsewhere on its timeline, and the stream's start time (its first packet's) is not that frame's when B-frames
    delay it or an edit list hides the head."""
    coded = coded_stream(path)
    return coded.digest, coded.start_s


def coded_stream(path: Path) -> CodedStream:
    """The CodedStream of the file at `path`, read through one opening of it (CodedStream(None) when it cannot be
    read cheaply)."""
    try:
        with open_file(path, metadata_errors="ignore") as container:
            stream = video_stream(container)
            return _digest(container, stream)
    except (VideoError, *DECODE_ERRORS):
        return CodedStream(None)


def _digest(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> CodedStream:
    ctx = stream.codec_context
    if ctx is None:  # no decoder for its codec (an index cut before its sample description): the usual path says so
        return CodedStream(None)
    # The first frame is decoded (its display matrix), here in ingest's own process: never one over the cap. Only
    # its side data and time are read, never its pixels: the deblocking filter is skipped (a fifth of the digest's
    # CPU; the frames that come out, their order and times are the same).
    ctx.options = {"max_pixels": str(PROBE_MAX_PIXELS), "skip_loop_filter": "all"}
    # Named by the coded format (its codec id's name), never by the decoder that reads it: an AV1 stream is "av1" on a
    # machine whose FFmpeg decodes it with libdav1d, libaom or its own decoder alike. Releases before this one named
    # it by the decoder ("libdav1d:"): those names give the legacy digests below.
    codec = ctx.codec.canonical_name if ctx.codec is not None else (ctx.name or "unknown")
    nal = codec in NAL_CODECS
    param_kinds, skip_kinds = (H264_PARAMS, H264_SKIP) if codec == "h264" else (HEVC_PARAMS, HEVC_SKIP)
    params: set[bytes] = set()
    params_before: set[bytes] = set()  # as releases before this one kept them: trailing zero bytes too
    pictures = _Pictures()
    length_size = _length_size(codec, ctx.extradata or b"")
    if nal and ctx.extradata:
        params_before.update(_params_of_extradata(codec, bytes(ctx.extradata)))
        params.update(_whole(unit) for unit in params_before)
    elif ctx.extradata:
        params.add(bytes(ctx.extradata))
        params_before.add(bytes(ctx.extradata))
    time_base = stream.time_base or Fraction(1, 90_000)
    tb_num, tb_den = time_base.numerator, time_base.denominator
    first: int | None = None
    shown_end: int | None = None  # where the latest packet a player shows ends (pts + duration)
    shown_last: int | None = None  # the latest packet a player shows (pts)
    hidden_last: int | None = None  # the latest packet a player hides (an edit list leaves it out)
    shown: av.VideoFrame | None = None  # the first frame the decoder gives: the first a player shows
    packets = 0
    for packet in container.demux(stream):
        if packet.size == 0:  # the demuxer's flush packet, at the end
            if shown is None and packets:  # fewer packets than the decoder's delay (a 2-frame video of B-frames)
                try:
                    shown = _first_frame(stream, packet)  # drains the decoder
                except DECODE_ERRORS:
                    return CodedStream(None)
            continue
        packets += 1
        if packets > MAX_PACKETS:
            return CodedStream(None)
        if shown is None:
            try:
                shown = _first_frame(stream, packet)
            except DECODE_ERRORS:
                return CodedStream(None)  # an undecodable start: the usual path, in a decoder process, names it
        pts = packet.pts if packet.pts is not None else packet.dts
        untimed = f"|-,{int(packet.is_keyframe)}|".encode()
        if pts is None:
            # No time (Matroska's blocks before 0: an open GOP's leading frames, cut from their GOP, which the
            # decoder drops): hashed as untimed, where such a stream had no digest. A stream of no timed packet
            # still has none (below).
            pictures.both(untimed)
        elif first is not None and pts < first:
            # Shown before the first packet: the leading pictures of an open GOP cut at its key frame, which the
            # decoder drops. Matroska keeps no time before its first packet's (FFmpeg reads None, above), so they are
            # hashed as untimed in every container; releases before this one hashed their times.
            pictures.apart(untimed, f"|{_ms(pts - first, tb_num, tb_den)},{int(packet.is_keyframe)}|".encode())
        else:
            first = pts if first is None else first
            if packet.is_discard:
                hidden_last = pts if hidden_last is None else max(hidden_last, pts)
            else:
                end = pts + (packet.duration or 0)
                shown_end = end if shown_end is None else max(shown_end, end)
                shown_last = pts if shown_last is None else max(shown_last, pts)
            pictures.both(f"|{_ms(pts - first, tb_num, tb_den)},{int(packet.is_keyframe)}|".encode())
        data = bytes(packet)
        if nal:
            for unit in _units(data, length_size):
                kind = _kind(codec, unit)
                whole = _whole(unit)
                if kind in param_kinds:
                    params.add(whole)
                    params_before.add(unit)
                elif kind not in skip_kinds:
                    pictures.apart(_sized(whole), _sized(unit))
        else:
            pictures.both(_sized(data))
    if packets == 0 or first is None:
        return CodedStream(None)
    if shown is None or shown.pts is None:
        return CodedStream(None)  # no frame decoded, or none timed: the usual path names the problem
    matrix = display_matrix(shown)
    shape = f"{ctx.width}x{ctx.height}|".encode() + (matrix.tobytes() if matrix is not None else b"-")
    fps = sane_fps(stream.average_rate, stream.guessed_rate)
    # Seconds the frames are shown for, as decoding reads them (video._sampled: to the last one's end).
    frames_s = float((max(shown_end, shown_last + 1) - shown.pts) * time_base) if shown_end is not None else 0.0
    held = (_held_s(container, stream, shown, 1 / fps if packets == 1 else frames_s)
            if packets == 1 or audio_outlasts(container, frames_s) else 0.0)
    if held:
        # Pictures held over their audio, the last shown until it ends (to a tenth: a remux's audio may pad a frame): a
        # slideshow reposted over a longer song is another video, of another length. One picture's digest as before.
        shape += f"|held {round(held, 1)}".encode()
    head = f"{codec}|".encode() + shape
    hidden = b""
    lead_ms = round((shown.pts - first) * time_base * 1000)
    if lead_ms:  # hashed only when there is one: the digests of the usual streams stay those already stored
        hidden += f"lead {lead_ms}|".encode()
    if hidden_last is not None and shown_end is not None and hidden_last >= shown_end:  # an end hidden, as a lead
        hidden += f"end {round((shown_end - first) * time_base * 1000)}|".encode()
    tail = b"".join(map(_sized, sorted(params))) + pictures.now.digest()
    tail_before = b"".join(map(_sized, sorted(params_before))) + (pictures.before or pictures.now).digest()
    digest = _named(codec, head + hidden + tail)
    # The digests older releases wrote, each named by a decoder of the format (the one here first): today's, then
    # with no hidden head or end digested, then with them (each with leading pictures timed and trailing zeros kept).
    older = [d for d in dict.fromkeys(_named(name, f"{name}|".encode() + shape + b) for name in decoder_names(ctx)
                                      for b in (hidden + tail, tail_before, hidden + tail_before)) if d != digest]
    if not older:
        return CodedStream(digest, shown_at(shown, stream), display_note(matrix))
    legacy = older[0]
    start_s = shown_at(shown, stream)
    stated_s = declared_duration(container, stream, start_s)
    # The last frame's time on decoding's clock (video.FrameClock: from the stream's start): past the length stated,
    # decoding takes the frames' (video._sampled: the last one's time and a frame); well short of it, decoding says
    # the file is cut short (no match).
    base = stream.start_time if stream.start_time is not None else first
    last_s = float((shown_last - base) * time_base) if shown_last is not None else 0.0
    if last_s > stated_s:
        stated_s = last_s + 1 / fps
    elif ended_early(stated_s, last_s + 1 / fps):
        stated_s = 0.0
    return CodedStream(digest, start_s, display_note(matrix), legacy, tuple(older[1:]), stated_s, fps,
                       hidden_last is not None)


def _held_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream, shown: av.VideoFrame,
            frames_s: float) -> float:
    """Seconds from the first picture `shown` to where the audio of `container` ends, its frames shown for `frames_s`,
    as decoding reads it (video.StillHeld: 0.0 when the audio ends with them); 0.0 when it cannot be read."""
    try:
        return StillHeld(shown.pts, MAX_HELD_S).seconds(container, stream, frames_s)
    except VideoError:
        return 0.0


# Decoders FFmpeg builds read a format with by default, where that decoder's name is not the format's: AV1's libdav1d
# (preferred where FFmpeg is built with it, as here), else libaom. Releases before this one named digests by them.
DEFAULT_DECODERS = {"av1": ("libdav1d", "libaom-av1")}


def decoder_names(ctx: av.CodecContext) -> list[str]:
    """The names releases before this one may have digested the stream of `ctx` under: the name of its decoder here,
    then those of DEFAULT_DECODERS for its format."""
    canonical = ctx.codec.canonical_name if ctx.codec is not None else ""
    return list(dict.fromkeys([ctx.name or "unknown", *DEFAULT_DECODERS.get(canonical, ())]))


class _Pictures:
    """The hash of a stream's packets (`now`), and the hash the release before this one took of them (`before`),
    which is kept apart only from the first packet they differ at (None until then: the same)."""

    def __init__(self) -> None:
        self.now = hashlib.blake2b(digest_size=20)
        self.before: hashlib.blake2b | None = None

    def both(self, data: bytes) -> None:
        self.now.update(data)
        if self.before is not None:
            self.before.update(data)

    def apart(self, now: bytes, before: bytes) -> None:
        """`now` hashed into the digest, `before` into the older one."""
        if now == before:
            self.both(now)
            return
        if self.before is None:
            self.before = self.now.copy()
        self.now.update(now)
        self.before.update(before)


def _named(name: str, data: bytes) -> str:
    """The digest "name:hex" of `data`."""
    return f"{name}:{hashlib.blake2b(data, digest_size=20).hexdigest()}"


def _sized(data: bytes) -> bytes:
    """`data` after its length (4 bytes): hashed units, joined, never run into one another."""
    return len(data).to_bytes(4, "big") + data


def _whole(unit: bytes) -> bytes:
    """A NAL unit without trailing zero bytes, which no NAL unit ends with (H.264 and HEVC 7.4.2: its last byte is
    never 0): bytes of the next start code a muxer left on it. FFmpeg's remux of an HEVC stream from MPEG-TS into
    Matroska or MP4 ends each packet's last unit with one, so the same pictures had two digests."""
    return unit.rstrip(b"\0") if unit[-1:] == b"\0" else unit


def _ms(ticks: int, num: int, den: int) -> int:
    """round(ticks * Fraction(num, den) * 1000): milliseconds of `ticks` of a time base num/den (den > 0), rounded
    half to even as round() of a Fraction, in integers (Fractions for each packet cost ~0.3 CPU s a dev run)."""
    floor, rest = divmod(ticks * num * 1000, den)
    return floor + (2 * rest > den or (2 * rest == den and floor % 2 == 1))


def _first_frame(stream: av.video.stream.VideoStream, packet: av.Packet) -> av.VideoFrame | None:
    """The first frame the decoder gives once `packet` is fed to it (frames of packets an edit list hides are
    dropped by the decoder, as a player drops them; the flush packet drains it), or None until one comes out. Only
    the first packets are decoded; DECODE_ERRORS pass through."""
    return next(iter(stream.codec_context.decode(packet)), None)


def _length_size(codec: str, extradata: bytes) -> int:
    """Bytes of each NAL unit's length prefix in length-prefixed (MP4, MKV) streams; 0 for Annex B."""
    if codec == "h264" and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) >= 23 and extradata[0] == 1:
        return (extradata[21] & 3) + 1
    return 0


def _units(data: bytes, length_size: int) -> Iterator[bytes]:
    """The NAL units of one packet, without prefixes; a packet that does not parse is one unit."""
    if length_size:
        at, out = 0, []
        while at + length_size <= len(data):
            n = int.from_bytes(data[at:at + length_size], "big")
            at += length_size
            if n == 0 or at + n > len(data):
                break  # not length-prefixed after all (Annex B inside MP4 happens)
            out.append(data[at:at + n])
            at += n
        else:
            if at == len(data):
                yield from out
                return
    yield from _annexb_units(data)


def _annexb_units(data: bytes) -> Iterator[bytes]:
    starts = []
    at = data.find(b"\x00\x00\x01")
    while at >= 0:
        starts.append(at + 3)
        at = data.find(b"\x00\x00\x01", at + 3)
    if not starts:
        yield data
        return
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        unit = data[s:end].rstrip(b"\x00")  # trailing zeros belong to the next 4-byte start code
        if unit:
            yield unit


def _kind(codec: str, unit: bytes) -> int:
    return (unit[0] & 0x1F) if codec == "h264" else ((unit[0] >> 1) & 0x3F)


def _params_of_extradata(codec: str, extradata: bytes) -> list[bytes]:
    """The parameter sets held out of band: avcC / hvcC records, or Annex B extradata."""
    if extradata[:1] != b"\x01":
        return [u for u in _annexb_units(extradata) if _kind(codec, u) in (H264_PARAMS | HEVC_PARAMS)]
    try:
        return _avcc_params(extradata) if codec == "h264" else _hvcc_params(extradata)
    except IndexError:
        return [extradata]


def _avcc_params(ex: bytes) -> list[bytes]:
    out: list[bytes] = []
    at = 5
    for mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count
        at = _sized_units(ex, at + 1, ex[at] & mask, out)
    return out


def _hvcc_params(ex: bytes) -> list[bytes]:
    out: list[bytes] = []
    at = 23
    for _ in range(ex[22]):  # arrays: completeness and NAL unit type (1 byte), count (2), units
        at = _sized_units(ex, at + 3, int.from_bytes(ex[at + 1:at + 3], "big"), out)
    return out


def _sized_units(ex: bytes, at: int, count: int, out: list[bytes]) -> int:
    """Appends `count` units of 16-bit size + bytes read from `ex` at `at` to `out`; returns where they end."""
    for _ in range(count):
        n = int.from_bytes(ex[at:at + 2], "big")
        out.append(ex[at + 2:at + 2 + n])
        at += 2 + n
    return at
