"""An MP4's index read for what it declares before FFmpeg builds an entry for each sample
(services/ingest/mp4_index.py): a tiny file declaring tens of millions of samples is refused in words, and real files
are left to the demuxer."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from services.ingest.mp4_index import overdeclared
from services.ingest.sampling import ShotSampler
from services.ingest.stream_digest import coded_stream
from services.ingest.video import VideoError, sample_frames


def one_frame(path: Path, *flags: str) -> Path:
    """An MP4 of one 64x48 H.264 frame (`flags`: ffmpeg's -movflags, to write it fragmented)."""
    plain = path.with_suffix(".plain.mp4")
    with av.open(str(plain), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")))
        out.mux(stream.encode())
    if not flags:
        return plain.rename(path)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(plain), "-c", "copy", "-movflags", *flags, str(path)],
                   check=True)
    return path


def patched(src: Path, dst: Path, box: bytes, at: int, *values: int) -> Path:
    """`src` with 32-bit `values` written `at` bytes into its first `box` box (counted from the box's size field)."""
    data = bytearray(src.read_bytes())
    struct.pack_into(f">{len(values)}I", data, data.find(box) - 4 + at, *values)
    dst.write_bytes(bytes(data))
    return dst


def said(path: Path) -> str:
    with open(path, "rb") as f:
        return overdeclared(f, path.stat().st_size)


def test_a_tiny_mp4_declaring_fifty_million_samples_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    """1,530 bytes whose sample size box says 50 million samples of 20 bytes: opening it took 1.9 GB and 20 s, in
    ingest's own process too (the repost digest)."""
    bomb = patched(one_frame(tmp_path / "one.mp4"), tmp_path / "bomb.mp4", b"stsz", 12, 20, 50_000_000)
    message = ("not a readable video (an MP4 whose index declares 50,000,000 samples of 20 bytes each in one track, "
               f"in a file of {bomb.stat().st_size:,} bytes: more than the 2,000,000 a video holds, a damaged or "
               "hostile index)")
    assert said(bomb) == message
    with pytest.raises(VideoError) as refused:
        sample_frames(bomb, ShotSampler(1.0))
    assert str(refused.value) == message
    assert coded_stream(bomb).digest is None


def test_a_fragment_declaring_fifty_million_samples_is_refused_too(tmp_path: Path) -> None:
    """A fragmented MP4 whose one run (`trun`) says 50 million samples of its fragment's default size: 3.5 GB and
    27 s to open."""
    bomb = patched(one_frame(tmp_path / "frag.mp4", "frag_keyframe+empty_moov"), tmp_path / "bomb.mp4", b"trun", 12,
                   50_000_000)
    assert said(bomb).startswith("not a readable video (a fragmented MP4 whose fragments declare more than 2,000,000 "
                                 "samples")


def test_real_files_plain_fragmented_and_of_pcm_sized_samples_that_fit_are_left_to_the_demuxer(tmp_path: Path) -> None:
    plain = one_frame(tmp_path / "one.mp4")
    assert said(plain) == "" and said(one_frame(tmp_path / "frag.mp4", "frag_keyframe+empty_moov")) == ""
    # PCM declares a sample a sound sample, all of one size: 3 million of 1 byte fit a file of 3 MB
    pcm = patched(plain, tmp_path / "pcm.mp4", b"stsz", 12, 1, 3_000_000)
    with open(pcm, "ab") as f:
        f.write(struct.pack(">I4s", 8 + 3_000_000, b"free") + bytes(3_000_000))
    assert said(pcm) == ""
    assert overdeclared(io.BytesIO(b"not an mp4 at all"), 17) == ""


def with_metadata(src: Path, dst: Path, nbytes: int) -> Path:
    """`src` (its moov last, as ffmpeg writes it) with a `udta` box of `nbytes` holding a `meta` box of zeros appended
    to its moov (written sparse: no disk used for the zeros)."""
    data = src.read_bytes()
    moov = data.find(b"moov") - 4
    size = int.from_bytes(data[moov:moov + 4], "big")
    assert moov + size == len(data)
    with open(dst, "wb") as f:
        f.write(data[:moov] + (size + nbytes).to_bytes(4, "big") + data[moov + 4:])
        f.write(nbytes.to_bytes(4, "big") + b"udta" + (nbytes - 8).to_bytes(4, "big") + b"meta")
        f.truncate(len(data) + nbytes)
    return dst


def test_an_mp4_whose_index_holds_hundreds_of_megabytes_is_refused_before_ffmpeg_parses_it(tmp_path: Path) -> None:
    """A 3 s video whose moov holds 65 MB of metadata (zeros in a `udta`'s `meta`): refused from the moov's size.
    Was: read box by box, 300 MB of it took 7 s at each opening (37 s to decode the 3 s video, 2.5 s for a `free` box
    instead); 1 MB of metadata is still read."""
    source = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-c:v",
                    "libx264", "-pix_fmt", "yuv420p", str(source)], check=True)
    huge = with_metadata(source, tmp_path / "huge.mp4", 65 << 20)
    message = said(huge)
    assert message.startswith("not a video we read (an MP4 whose index, the moov box, is ") and message.endswith(
        " bytes: more than the 64 MB any video's takes, a damaged or hostile index)")
    assert int(message.split(" is ")[1].split(" bytes")[0].replace(",", "")) > 65 << 20
    with pytest.raises(VideoError) as refused:
        sample_frames(huge, ShotSampler(1.0))
    assert str(refused.value) == message and coded_stream(huge).digest is None
    info, frames = sample_frames(with_metadata(source, tmp_path / "some.mp4", 1 << 20), ShotSampler(1.0))
    assert info.duration_s == pytest.approx(3.0, abs=0.05) and len(list(frames)) == 3
