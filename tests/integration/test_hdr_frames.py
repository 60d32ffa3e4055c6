"""HDR10 video (PQ, SMPTE ST 2084) sampled as the SDR picture it was graded to look like (services/ingest/tonemap.py):
read as if SDR, its faces came out washed out and dim to the detector. The media are made here with ffmpeg (zscale
turns an SDR pattern into PQ, as a phone's HDR10 grade of it) into tmp_path."""

import subprocess
from pathlib import Path

import cv2
import numpy as np

from services.ingest.sampling import ShotSampler
from services.ingest.tonemap import sdr_rgb
from services.ingest.video import sample_frames

SDR_TO_PQ = ("zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=smpte2084:m=bt2020nc:p=bt2020:r=tv:npl=203,"
             "format=yuv420p10le")
# ffmpeg's own tone map of the same kind: light relative to 203 nits, BT.709's primaries, clipped past white.
PQ_TO_SDR = "zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=bt709,tonemap=clip:desat=0,zscale=t=bt709:m=bt709:r=pc"


def pq_clip(path: Path, pattern: str = "testsrc2=size=320x240:rate=25:duration=1") -> Path:
    """`path`: an HEVC 10-bit PQ video (BT.2020, tagged as HDR10 is) of ffmpeg's `pattern`, SDR white at 203 nits."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", pattern, "-vf", SDR_TO_PQ, "-c:v", "libx265",
                    "-x265-params", "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
                    str(path)], check=True)
    return path


def ffmpeg_frame(path: Path, filters: str | None = None, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """The first frame ffmpeg's command gives of `path` through `filters` (None: none), as BGR int."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), *(["-vf", filters] if filters else []),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True,
                         capture_output=True).stdout
    width, height = size
    return np.frombuffer(raw, np.uint8)[: width * height * 3].reshape(height, width, 3)[:, :, ::-1].astype(int)


def first_sample(path: Path) -> np.ndarray:
    _, frames = sample_frames(path, ShotSampler(1.0))
    return next(iter(frames)).bgr.astype(int)


def grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(int)


def test_a_pq_frame_is_sampled_as_the_sdr_picture_it_grades_as_ffmpegs_tone_map_gives_it(tmp_path):
    """A PQ frame made from an SDR pattern comes back near that pattern, as ffmpeg's own tone map of the same kind
    (zscale's linear light, tonemap=clip) gives it: its grey levels 2.1 off ffmpeg's on the mean, 15 off the source's
    (ffmpeg's: 14.5; x265 at its default quality, this pattern's saturated colours), where read as SDR, as before,
    they lay 38 off (its white at 58%, its blacks raised)."""
    path = pq_clip(tmp_path / "hdr.mp4")
    source = tmp_path / "sdr.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v",
                    "libx264", "-qp", "0", "-pix_fmt", "yuv444p", str(source)], check=True)
    ours, sdr, as_sdr = grey(first_sample(path)), grey(ffmpeg_frame(source)), grey(ffmpeg_frame(path))
    assert np.abs(ours - grey(ffmpeg_frame(path, PQ_TO_SDR))).mean() < 3
    assert np.abs(ours - sdr).mean() < np.abs(as_sdr - sdr).mean() / 2


def test_an_hlg_frame_and_an_sdr_bt2020_frame_are_not_tone_mapped(tmp_path):
    """HLG (made to be shown on SDR displays as it is) and SDR in BT.2020 are sampled as `ffmpeg -pix_fmt rgb24` gives
    them, as before: within half a level."""
    for name, transfer in (("hlg.mp4", "arib-std-b67"), ("bt2020.mp4", "bt2020-10")):
        path = tmp_path / name
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-vf",
                        "format=yuv420p10le", "-c:v", "libx265", "-x265-params",
                        f"log-level=error:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc", str(path)],
                       check=True)
        assert np.abs(first_sample(path) - ffmpeg_frame(path)).mean() < 0.5, name


def test_the_tone_map_gives_every_code_from_black_to_white_over_the_pq_range():
    """PQ's codes 0..65535 (every channel) come out as SDR codes from 0 to 255, never past them (light past reference
    white clipped), in the shape they came."""
    codes = np.linspace(0, 65535, 720 * 1280 * 3, dtype=np.float64).astype(np.uint16).reshape(1280, 720, 3)
    sdr = sdr_rgb(codes)
    assert sdr.dtype == np.uint8 and sdr.shape == (1280, 720, 3) and sdr.min() == 0 and sdr.max() == 255
