"""A video of one picture held over a longer audio track (a still with music, a common social video): a player shows
the picture for as long as the audio plays, so that picture is analysed once and the video lasts as long as its
audio. A still image, and a video of one frame whose audio ends with it or a file cut short, are still refused. The
media are made here with ffmpeg into tmp_path."""

import subprocess
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from services.ingest.sampling import ShotSampler
from services.ingest.stream_digest import coded_stream
from services.ingest.video import VideoError, sample_frames
from tests.support.media import remux_every_packet


def picture_over_audio(path: Path, audio_s: float, video: tuple[str, ...] = ("-c:v", "libx264"),
                       audio: tuple[str, ...] = ("-c:a", "aac")) -> Path:
    """`path`: one 320x240 picture (a frame of ffmpeg's test pattern) over `audio_s` seconds of a sine tone."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.04", "-f",
                    "lavfi", "-i", f"sine=duration={audio_s}", *video, "-pix_fmt", "yuv420p", *audio,
                    str(path)], check=True)
    return path


def decode(path: Path) -> tuple:
    info, frames = sample_frames(path, ShotSampler(1.0))
    return info, list(frames)


@pytest.mark.parametrize(("name", "video", "audio"), [
    ("music.mp4", ("-c:v", "libx264"), ("-c:a", "aac")),
    ("music.mkv", ("-c:v", "libx264"), ("-c:a", "libopus")),
    ("music.ts", ("-c:v", "libx264"), ("-c:a", "aac")),
    ("music.webm", ("-c:v", "libvpx-vp9"), ("-c:a", "libopus")),
    ("jpeg.mp4", ("-c:v", "mjpeg"), ("-c:a", "aac")),
])
def test_one_picture_over_five_seconds_of_audio_is_sampled_once_and_lasts_as_long_as_its_audio(
        tmp_path, name, video, audio):
    """The one frame is sampled once and stands for the 5 s its audio plays: the video is 5 s long. Was: `not a
    video (a single still frame)` (MP4, MPEG-TS), or `one frame of the 5.0 s the file states: the file is cut short`
    (Matroska, WebM)."""
    info, frames = decode(picture_over_audio(tmp_path / name, 5.0, video, audio))
    assert len(frames) == 1 and frames[0].bgr.shape == (240, 320, 3)
    assert info.duration_s == pytest.approx(5.0, abs=0.05) and info.warning == ""
    assert frames[0].span_s == pytest.approx(5.0, abs=0.05)


def test_a_picture_over_audio_keeps_its_digest_remuxed_and_another_length_of_audio_has_another(tmp_path):
    """The same picture over the same 5 s, remuxed from MP4 into Matroska and MPEG-TS: one stream digest, so a repost
    is copied with its source's length. Over 8 s of audio it is another video (another length): another digest, where
    the coded stream alone would have given the 5 s video's, and its copy 5 s."""
    five = picture_over_audio(tmp_path / "five.mp4", 5.0)
    digests = {coded_stream(p).digest for p in (five, remux_every_packet(five, tmp_path / "five.mkv"),
                                                 remux_every_packet(five, tmp_path / "five.ts"))}
    assert len(digests) == 1 and None not in digests
    eight = coded_stream(picture_over_audio(tmp_path / "eight.mp4", 8.0)).digest
    assert eight is not None and eight not in digests


def test_a_still_image_or_a_frame_whose_audio_ends_with_it_is_still_refused(tmp_path):
    """A PNG named .mp4 is an image; one frame over 0.5 s of audio (less than a second past the frame) is a still.
    An MP4 whose video track states 4 s, of which one frame is left, over audio that goes on, is cut short."""
    png = tmp_path / "photo.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", "-c:v",
                    "png", "-f", "image2", str(png)], check=True)
    with pytest.raises(VideoError, match=r"^not a video \(an image file: "):
        decode(png)
    with pytest.raises(VideoError, match=r"^not a video \(a single still frame\)$"):
        decode(picture_over_audio(tmp_path / "short.mp4", 0.5))
    whole = tmp_path / "whole.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-f",
                    "lavfi", "-i", "sine=duration=4", "-c:v", "libx264", "-g", "1", "-c:a", "aac", "-pix_fmt",
                    "yuv420p", "-movflags", "faststart", str(whole)], check=True)
    with av.open(str(whole)) as probe:
        second = [p.pos for p in probe.demux(video=0) if p.size][1]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:second])
    with pytest.raises(VideoError, match=r"^not a readable video \(one frame of the 4\.0 s the file states: the file "
                                         r"is cut short\)$"):
        decode(cut)


def slideshow_over_audio(path: Path, audio_s: float | None, pictures: int = 4, each_s: int = 2) -> Path:
    """`path`: `pictures` 320x240 pictures, each shown `each_s` seconds, as montage tools write them (`-framerate 1/2
    -i img%d.png -i song.m4a`: a frame a picture), over `audio_s` seconds of a sine tone (None: silent). The pictures
    are greys far apart, each with a black square in another place: each one is a cut."""
    folder = path.parent / f"{path.stem}-pictures"
    folder.mkdir()
    for k in range(pictures):
        picture = np.full((240, 320, 3), 40 + 200 * (k % 2) - 20 * k, np.uint8)
        picture[40 + 40 * k: 100 + 40 * k, 40 + 60 * k: 100 + 60 * k] = 0
        cv2.imwrite(str(folder / f"img{k + 1}.png"), picture)
    sound = ["-f", "lavfi", "-i", f"sine=duration={audio_s}"] if audio_s else []
    subprocess.run(["ffmpeg", "-v", "error", "-framerate", f"1/{each_s}", "-i", str(folder / "img%d.png"), *sound,
                    "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    *(["-c:a", "libopus" if path.suffix == ".mkv" else "aac"] if sound else []), str(path)],
                   check=True)
    return path


@pytest.mark.parametrize("suffix", ["mp4", "mkv", "ts"])
def test_a_slideshow_of_a_few_pictures_over_a_longer_song_lasts_as_long_as_the_song(tmp_path, suffix):
    """Four pictures 2 s apart (8 s of video) over 12 s of music: a player shows the last picture until the music
    ends, so the video lasts 12 s, each picture is sampled once (a shot each), and the last is on screen 6 s. Was: 8 s
    (MPEG-TS: 7 s), the last picture 2 s (1 s)."""
    info, frames = decode(slideshow_over_audio(tmp_path / f"show.{suffix}", 12.0))
    assert info.duration_s == pytest.approx(12.0, abs=0.05) and info.warning == ""
    assert [f.shot for f in frames] == [0, 1, 2, 3]
    assert [f.timestamp_s for f in frames] == pytest.approx([0, 2, 4, 6], abs=0.05)
    assert [f.span_s for f in frames] == pytest.approx([2, 2, 2, 6], abs=0.05)


def test_a_slideshow_whose_music_ends_with_its_pictures_or_that_has_none_lasts_as_long_as_its_pictures(tmp_path):
    """The same pictures over 8.5 s of music (less than a second past the last picture's end), or silent: 8 s."""
    for name, audio_s in (("near.mp4", 8.5), ("silent.mp4", None)):
        info, frames = decode(slideshow_over_audio(tmp_path / name, audio_s))
        assert info.duration_s == pytest.approx(8.0, abs=0.05) and info.warning == ""
        assert [f.span_s for f in frames] == pytest.approx([2, 2, 2, 2], abs=0.05)


def test_a_slideshow_over_a_song_keeps_its_digest_remuxed_and_over_a_longer_song_or_silent_has_another(tmp_path):
    """Remuxed into Matroska and MPEG-TS, the slideshow over 12 s of music has one stream digest (a repost is copied
    with its 12 s); over 20 s of music, or silent (8 s), it is another video of another length: another digest. Was:
    one digest for the three, so a repost over a longer song was copied with the first one's length."""
    show = slideshow_over_audio(tmp_path / "show.mp4", 12.0)
    digests = {coded_stream(p).digest for p in (show, remux_every_packet(show, tmp_path / "show.mkv"),
                                                 remux_every_packet(show, tmp_path / "show.ts"))}
    assert len(digests) == 1 and None not in digests
    longer = coded_stream(slideshow_over_audio(tmp_path / "longer.mp4", 20.0)).digest
    silent = coded_stream(slideshow_over_audio(tmp_path / "silent.mp4", None)).digest
    assert None not in (longer, silent) and len({*digests, longer, silent}) == 3
