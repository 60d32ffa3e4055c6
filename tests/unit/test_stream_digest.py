"""The coded-stream digest (services/ingest/stream_digest.py): the same coded pictures in any file or
container have one digest; anything that shows other pictures, or the same pictures turned, has another;
what cannot be demuxed has none."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from services.ingest.stream_digest import _ms, digest_and_start, stream_digest
from tests.support.media import end_hidden, open_gop_capture, reencode, remux, remux_every_packet

SMOKE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "smoke" / "videos"


@pytest.fixture
def original(tmp_path: Path) -> Path:
    if not SMOKE.is_dir():
        pytest.skip("smoke corpus not present")
    return Path(shutil.copy(SMOKE / "v0009.mp4", tmp_path / "original.mp4"))


def trimmed(src: Path, dst: Path, packets: int) -> Path:
    """The first `packets` video packets of `src`: another cut of the same footage."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        video = inp.streams.video[0]
        stream = out.add_stream_from_template(video)
        for k, packet in enumerate(inp.demux(video)):
            if packet.dts is None or k >= packets:
                continue
            packet.stream = stream
            out.mux(packet)
    return dst


def turned(src: Path, dst: Path) -> Path:
    """The same packets, shown turned by 90 degrees (a display matrix on the stream)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        video = inp.streams.video[0]
        stream = out.add_stream_from_template(video)
        stream.set_display_rotation(90)
        for packet in inp.demux(video):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dst


@pytest.mark.parametrize("container,suffix", [("mp4", "mp4"), ("matroska", "mkv"), ("mpegts", "ts")])
def test_the_same_packets_in_another_container_have_the_same_digest(original, tmp_path, container, suffix) -> None:
    copy = remux(original, tmp_path / f"copy.{suffix}", container)
    assert copy.read_bytes() != original.read_bytes()
    assert stream_digest(copy) == stream_digest(original) is not None


def test_a_reencode_a_shorter_cut_and_a_turned_copy_each_have_another_digest(original, tmp_path) -> None:
    digest = stream_digest(original)
    others = [reencode(original, tmp_path / "reencoded.mp4", 18), trimmed(original, tmp_path / "cut.mp4", 30),
              turned(original, tmp_path / "turned.mp4")]
    found = [stream_digest(p) for p in others]
    assert None not in found
    assert len({digest, *found}) == 4


def test_another_video_has_another_digest() -> None:
    if not SMOKE.is_dir():
        pytest.skip("smoke corpus not present")
    digests = {stream_digest(p) for p in sorted(SMOKE.glob("*.mp4"))}
    assert None not in digests and len(digests) == len(list(SMOKE.glob("*.mp4")))


def test_what_cannot_be_demuxed_or_holds_no_video_has_no_digest(original, tmp_path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\\x00\\x00\\x00\\x18ftypmp42" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    head = tmp_path / "head.mp4"
    head.write_bytes(original.read_bytes()[:2000])
    audio = tmp_path / "audio.m4a"
    with av.open(str(audio), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate = 8000
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert [stream_digest(p) for p in (garbage, empty, head, audio, tmp_path / "missing.mp4")] == [None] * 5


def test_an_hevc_stream_keeps_its_digest_in_mkv_and_mpeg_ts(tmp_path) -> None:
    source = tmp_path / "hevc.mp4"
    try:
        with av.open(str(source), "w") as out:
            stream = out.add_stream("libx265", rate=10, options={"log-level": "error"})
            stream.width = stream.height = 128
            stream.pix_fmt = "yuv420p"
            for k in range(12):
                image = np.full((128, 128, 3), 20 * k, np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    except (av.FFmpegError, ValueError) as exc:
        pytest.skip(f"no HEVC encoder here: {exc}")
    digests = {stream_digest(p) for p in (source, remux(source, tmp_path / "h.mkv", "matroska"),
                                           remux(source, tmp_path / "h.ts", "mpegts"))}
    assert len(digests) == 1 and None not in digests
    assert next(iter(digests)).startswith("hevc:")


def test_a_reposts_digest_and_start_are_read_through_one_opening_of_it(original, tmp_path) -> None:
    """A pipe can be read once: the digest and where the first frame lies on the timeline (a remux may move it)
    come from one opening of the file, its video streams counted there too. Before, a repost was opened four
    times: its streams counted, then opened for the digest, and both again for its start."""
    late = tmp_path / "late.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-itsoffset", "0.5", "-i", str(original), "-map", "0:v", "-c", "copy",
                    str(late)], check=True)
    fifo = tmp_path / "fifo.ts"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=fifo.write_bytes, args=(late.read_bytes(),), daemon=True)
    feeder.start()  # its open waits for the reader's, and it writes the file once
    digest, start_s = digest_and_start(fifo)
    feeder.join(30)
    assert (digest, start_s) == digest_and_start(late)
    assert digest == stream_digest(original) is not None and start_s > 0.5


def first_shown_s(path: Path) -> float:
    """ffprobe's best_effort_timestamp of the first frame it decodes of `path`: where a player shows it."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.split()[0].strip(","))  # side data, when a frame has some, follows a comma


def test_a_copys_start_is_its_first_shown_frames_and_a_trim_hiding_the_head_by_an_edit_list_is_no_copy(
        tmp_path: Path) -> None:
    """A stream of B-frames remuxed: later on the timeline (-itsoffset), without an edit list (its first frame
    0.08 s late, the B-frame delay), into MPEG-TS (1.48 s late): the same pictures, each copy's start the time
    ffprobe gives its first shown frame, as decoding measures it. Cut with `-c copy -ss 0.5`, the MP4 keeps
    every packet and hides the first 0.52 s by an edit list: before, it had the original's digest, so it was
    copied with the original's times, every appearance shown 0.52 s early, and its 3 s where a player shows 2.48 s."""
    from services.ingest.sampling import ShotSampler
    from services.ingest.video import sample_frames

    source = tmp_path / "source.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=3", "-c:v",
                    "libx264", "-bf", "3", "-g", "25", "-pix_fmt", "yuv420p", str(source)], check=True)
    copies = {"late.mp4": ["-itsoffset", "0.5", "-i", str(source)], "noedit.mp4": ["-i", str(source),
              "-use_editlist", "0"], "copy.ts": ["-i", str(source)]}
    for name, args in [*copies.items(), ("trim.mp4", ["-ss", "0.5", "-i", str(source)])]:
        subprocess.run(["ffmpeg", "-v", "error", *args, "-c", "copy", str(tmp_path / name)], check=True)
    digest, start_s = digest_and_start(source)
    assert digest is not None and start_s == 0.0
    for name in [*copies, "trim.mp4"]:
        path = tmp_path / name
        info, frames = sample_frames(path, ShotSampler(1.0))
        list(frames)
        theirs, their_start = digest_and_start(path)
        assert their_start == pytest.approx(first_shown_s(path), abs=1e-3) == pytest.approx(info.start_s), name
        assert (theirs == digest) is (name != "trim.mp4"), name
    assert [round(digest_and_start(tmp_path / n)[1], 2) for n in copies] == [0.5, 0.08, 1.48]


def test_a_copy_whose_edit_list_hides_the_end_is_no_copy_and_lasts_what_a_player_plays(tmp_path: Path) -> None:
    """An edit list ending 1.5 s before the stream: every packet of the source is in the file, FFmpeg flags those past
    the edit discarded and a player stops at 1.5 s. Before, the digest read every packet as the source's, so the
    file was copied from the source with its 3 s and all its appearances, shown or not."""
    from services.ingest.sampling import ShotSampler
    from services.ingest.video import sample_frames

    source = tmp_path / "source.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=3", "-c:v",
                    "libx264", "-bf", "3", "-g", "25", "-pix_fmt", "yuv420p", str(source)], check=True)
    cut = end_hidden(source, tmp_path / "cut.mp4", 1500)
    with av.open(str(cut)) as container:  # every packet is there: the end is hidden, not removed
        assert sum(1 for p in container.demux(video=0) if p.size) == 75
    played = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "stream=duration:frame=best_effort_timestamp_time", "-of", "csv=p=0", str(cut)],
                            check=True, capture_output=True, text=True).stdout.split()
    info, frames = sample_frames(cut, ShotSampler(1.0))
    assert len(list(frames)) == 2 and info.warning == ""
    assert info.duration_s == pytest.approx(float(played[-1]), abs=0.04)  # ffprobe's stream duration: 1.5
    assert float(played[-2]) < 1.5  # ffprobe's last frame shown
    assert stream_digest(cut) != stream_digest(source) is not None
    assert stream_digest(cut) == stream_digest(end_hidden(source, tmp_path / "again.mp4", 1500))  # still a digest
    assert stream_digest(cut) != stream_digest(end_hidden(source, tmp_path / "longer.mp4", 2500))


@pytest.mark.parametrize("num, den", [(1, 90_000), (1, 1000), (1, 15_360), (1001, 30_000), (1, 2000), (3, 8000),
                                      (1, 3)])
def test_packet_milliseconds_in_integers_are_those_of_a_fraction_rounded_half_to_even(num, den) -> None:
    # Ticks around zero (B-frames come before the first packet's time), halves of a millisecond, and large times.
    ticks = [*range(-3000, 3000), *range(10**9, 10**9 + 3000), -(10**9)]
    assert [_ms(t, num, den) for t in ticks] == [round(t * Fraction(num, den) * 1000) for t in ticks]


def test_an_open_gop_stream_joined_mid_gop_keeps_its_digest_and_its_older_digest_in_every_container(
        tmp_path: Path) -> None:
    """A recording of open GOPs that starts mid-GOP: the decoder drops its head, so its first frame shown lies after
    its first packet, which today's digest covers ("lead") and an older release's did not (CodedStream.legacy). Its
    remuxes into MPEG-TS, MP4 and Matroska, every packet kept, have both digests of the capture: a stored video of
    either digest keeps matching them."""
    from services.ingest.stream_digest import coded_stream

    capture = open_gop_capture(tmp_path)
    coded = coded_stream(capture)
    assert coded.digest is not None and coded.legacy is not None and coded.legacy != coded.digest
    for suffix in ("ts", "mp4", "mkv"):
        copy = remux_every_packet(capture, tmp_path / f"copy.{suffix}")
        theirs = coded_stream(copy)
        assert (theirs.digest, theirs.legacy) == (coded.digest, coded.legacy), suffix
        assert theirs.start_s == pytest.approx(first_shown_s(copy), abs=1e-3), suffix


def test_a_two_frame_video_of_b_frames_has_a_digest_and_its_remux_the_same(tmp_path: Path) -> None:
    """x264 holds frames back for its B-frames (a delay of 2 here): a video of 2 frames gives none until the decoder
    is drained at the end, so it had no digest, and its copies were decoded and analysed again."""
    source = tmp_path / "two.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25", "-frames:v", "2",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(source)], check=True)
    digest, start_s = digest_and_start(source)
    assert digest is not None and start_s == 0.0
    assert stream_digest(remux(source, tmp_path / "two.mkv", "matroska")) == digest


def test_a_matroska_file_whose_open_gop_head_has_no_timestamps_has_a_digest(tmp_path: Path) -> None:
    """An open-GOP stream cut at a key frame (`-ss` with `-c copy`), remuxed into Matroska: the leading frames of the
    cut GOP come before 0 and are read without a time (the decoder drops them). Such a file had no digest (a packet
    without a time gave none), so its copies were decoded and analysed again; its untimed packets are hashed as such
    now, and a copy of its bytes has its digest."""
    whole = tmp_path / "whole.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=8", "-c:v",
                    "libx264", "-bf", "3", "-g", "25", "-x264-params", "open_gop=1:scenecut=0", "-pix_fmt", "yuv420p",
                    str(whole)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "2.1", "-i", str(whole), "-c", "copy", str(tmp_path / "cut.ts")],
                   check=True)
    cut = tmp_path / "cut.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "cut.ts"), "-c", "copy", str(cut)], check=True)
    with av.open(str(cut)) as container:
        assert any(p.size and p.pts is None and p.dts is None for p in container.demux(video=0))
    digest = stream_digest(cut)
    assert digest is not None
    copy = tmp_path / "copy.mkv"
    copy.write_bytes(cut.read_bytes() + b"\0" * 64)
    assert stream_digest(copy) == digest



@pytest.mark.parametrize("codec, options", [("libx264", ["-bf", "3", "-x264-params", "open_gop=1:scenecut=0"]),
                                            ("libx265", ["-x265-params", "open-gop=1:scenecut=0:log-level=error"])])
@pytest.mark.parametrize("cut_s", [None, "2.1"])
def test_a_stream_remuxed_from_mpeg_ts_into_matroska_or_mp4_by_ffmpeg_keeps_its_digest_an_open_gop_cut_too(
        tmp_path: Path, codec, options, cut_s) -> None:
    """MPEG-TS files of open GOPs (H.264 open_gop; HEVC's CRA, x265's default), whole or cut at a key frame with
    `-c copy`, remuxed by ffmpeg into Matroska and MP4 (and by PyAV into Matroska). Two causes gave the copy another
    digest than its original, so it was analysed again: a cut's leading pictures are shown before its key frame,
    whose times MPEG-TS and MP4 keep and Matroska cannot (FFmpeg reads none before its first packet's); and ffmpeg
    ends each HEVC packet it writes into Matroska or MP4 with a zero byte, which no NAL unit ends with. Both are
    left out now; each file whose digest changed offers the one the release before wrote as its legacy."""
    from services.ingest.stream_digest import coded_stream

    source = tmp_path / "source.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25:duration=6", "-c:v",
                    codec, "-g", "25", *options, "-pix_fmt", "yuv420p", str(source)], check=True)
    original = source
    if cut_s is not None:
        original = tmp_path / "cut.ts"
        subprocess.run(["ffmpeg", "-v", "error", "-ss", cut_s, "-i", str(source), "-c", "copy", str(original)],
                       check=True)
        with av.open(str(original)) as container:  # leading pictures: shown before the first packet
            times = [p.pts for p in container.demux(video=0) if p.size]
            assert min(times) < times[0]
    coded = coded_stream(original)
    assert coded.digest is not None
    copies = {suffix: remux_every_packet(original, tmp_path / f"copy.{suffix}") for suffix in ("mkv", "mp4", "ts")}
    copies["pyav.mkv"] = remux(original, tmp_path / "pyav.mkv", "matroska")
    for name, copy in copies.items():
        theirs = coded_stream(copy)
        assert theirs.digest == coded.digest, name
        assert theirs.digest not in theirs.legacies(), name
    if cut_s is not None:
        assert coded.legacy is not None  # its leading pictures' times: the digest the release before stored


@pytest.mark.parametrize("order", ["tff", "bff"])
def test_an_interlaced_h264_stream_keeps_its_digest_in_every_container_and_is_sampled_whole(tmp_path: Path,
                                                                                           order) -> None:
    """H.264 coded interlaced (x264's MBAFF: `-flags +ilme+ildct`, top or bottom field first) in MPEG-TS, as a
    broadcast recording comes, remuxed into Matroska and MP4: one digest, and every frame sampled at its whole
    height (both fields woven, as ffmpeg and Chromium show them). Field pictures coded apart (PAFF) are not tried:
    no encoder here writes them."""
    from services.ingest.sampling import ShotSampler
    from services.ingest.video import sample_frames

    source = tmp_path / "broadcast.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v",
                    "libx264", "-flags", "+ilme+ildct", "-x264-params", f"{order}=1", "-pix_fmt", "yuv420p",
                    str(source)], check=True)
    digests = {stream_digest(p) for p in (source, remux_every_packet(source, tmp_path / "copy.mkv"),
                                           remux_every_packet(source, tmp_path / "copy.mp4"))}
    assert len(digests) == 1 and None not in digests
    info, sampled = sample_frames(source, ShotSampler(0.5))
    frames = list(sampled)
    shapes = {f.bgr.shape for f in frames}
    assert shapes == {(240, 320, 3)} and info.duration_s == pytest.approx(2.0, abs=0.05) and len(frames) >= 3


def test_an_av1_stream_is_digested_under_its_format_not_its_decoder_and_keeps_the_decoder_named_digests(
        tmp_path: Path) -> None:
    """AV1 in MP4, remuxed into WebM and Matroska: one digest, named `av1:` (its codec id's name), whichever decoder
    this FFmpeg reads it with. Was `libdav1d:` here, where an FFmpeg built without libdav1d (libaom's decoder, or its
    own) gave the same stream another digest. The digests named by those decoders, as the releases before stored
    them, are offered as legacies (tried in turn; test_pipeline_rows shows a stored one still found)."""
    from services.ingest.stream_digest import coded_stream

    if "libdav1d" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libdav1d")
    source = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1", "-c:v",
                    "libaom-av1", "-cpu-used", "8", "-crf", "40", str(source)], check=True)
    coded = [coded_stream(p) for p in (source, remux_every_packet(source, tmp_path / "copy.webm"),
                                        remux_every_packet(source, tmp_path / "copy.mkv"))]
    assert {c.digest for c in coded} == {coded[0].digest} and coded[0].digest.startswith("av1:")
    names = [legacy.split(":")[0] for legacy in coded[0].legacies()]
    assert names == ["libdav1d", "libaom-av1"]
    assert coded[0].stated_s == pytest.approx(1.0, abs=0.05) and not coded[0].hides


def test_an_h264_streams_digest_is_named_and_computed_as_before(tmp_path: Path) -> None:
    """A format whose decoder has the format's name (H.264, HEVC, VP9) keeps the very digest it had: no legacy."""
    from services.ingest.stream_digest import coded_stream

    source = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", str(source)], check=True)
    coded = coded_stream(source)
    assert coded.digest is not None and coded.digest.startswith("h264:") and coded.legacies() == ()
