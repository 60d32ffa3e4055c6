"""Videos made for tests and benchmarks from other videos."""

from __future__ import annotations

import struct
from pathlib import Path

import av


def reencode(src: Path, dst: Path, crf: int, scale: float = 1.0) -> Path:
    """The same frames through another encoder setting (other bytes, other compression noise), optionally
    resized by `scale`: H.264 at constant quality `crf`."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        video = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=int(round(float(video.average_rate))))
        w = int(video.codec_context.width * scale) // 2 * 2
        h = int(video.codec_context.height * scale) // 2 * 2
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for k, frame in enumerate(inp.decode(video)):
            again = av.VideoFrame.from_ndarray(frame.to_ndarray(format="bgr24"), format="bgr24").reformat(
                width=w, height=h, format="yuv420p")
            again.pts = k
            for packet in stream.encode(again):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


def remux(src: Path, dst: Path, container: str = "mp4") -> Path:
    """The same packets in another file (as ../shared/tools/make_catalogue.py makes reposts), of the
    `container` format ("mp4", "matroska", "mpegts": Annex B start codes instead of length prefixes)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=container) as out:
        out.metadata["comment"] = "uploaded again"
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type == "video"}
        for packet in inp.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def write_pixel_animation(path: Path, side: int, count: int, delay_cs: int = 2) -> Path:
    """A GIF of a `side` x `side` canvas whose `count` frames each draw one pixel (a 1x1 image, about 20 bytes),
    `delay_cs` hundredths of a second apart: a few kB that decode to whole canvases."""
    gif = bytearray(b"GIF89a" + struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff")
    for k in range(count):
        lzw = 4 | (k % 2) << 3 | 5 << 6  # clear code, the pixel's index, end of information: 3 bits each
        gif += b"\x21\xf9\x04" + struct.pack("<BHBB", 0x04, delay_cs, 0, 0)  # keep the canvas, then wait
        gif += b"\x2c" + struct.pack("<HHHHB", k % side, k // side % side, 1, 1, 0)
        gif += b"\x02\x02" + struct.pack("<H", lzw) + b"\0"
    path.write_bytes(bytes(gif + b"\x3b"))
    return path


def end_hidden(src: Path, dst: Path, shown_ms: int) -> Path:
    """`src` (an MP4 of one edit, movie timescale 1000) with its edit list, movie and track headers ending at
    `shown_ms`: every packet kept, the end hidden by the index alone, as a trim that only rewrites the index makes."""
    data = bytearray(src.read_bytes())
    for box, at in ((b"elst", 12), (b"mvhd", 20), (b"tkhd", 24)):  # version 0: the segment's or header's duration
        where = data.find(box) + at
        data[where:where + 4] = shown_ms.to_bytes(4, "big")
    dst.write_bytes(bytes(data))
    return dst


def open_gop_capture(folder: Path, seconds: int = 8, skipped: int = 29) -> Path:
    """`folder`/capture.ts: an H.264 stream of open GOPs (x264 open_gop=1, B-frames, a key frame a second at 25 fps)
    whose first `skipped` packets are left out, as a recording joined mid-GOP keeps it: its head refers to pictures
    it does not hold, so the decoder drops it and the first frame shown lies after the first packet (a lead)."""
    import subprocess

    whole = folder / "whole.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=128x96:rate=25:duration={seconds}",
                    "-c:v", "libx264", "-bf", "3", "-g", "25", "-x264-params", "open_gop=1:scenecut=0", "-pix_fmt",
                    "yuv420p", str(whole)], check=True)
    capture = folder / "capture.ts"
    with av.open(str(whole)) as inp, av.open(str(capture), "w", format="mpegts") as out:
        video = inp.streams.video[0]
        stream = out.add_stream_from_template(video)
        for packet in [p for p in inp.demux(video) if p.size][skipped:]:
            packet.stream = stream
            out.mux(packet)
    whole.unlink()
    return capture


def remux_every_packet(src: Path, dst: Path) -> Path:
    """`src`'s packets in the container of `dst`'s suffix, with ffmpeg: the head before the first key frame kept
    (-copyinkf), as a remux that drops nothing keeps it."""
    import subprocess

    subprocess.run(["ffmpeg", "-v", "quiet", "-i", str(src), "-c", "copy", "-copyinkf", str(dst)], check=True)
    return dst
