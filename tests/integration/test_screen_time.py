"""Time on screen from the sampled frames' times, with the real face model on a smoke video's frame: frames of
one time count it once."""

from __future__ import annotations

import subprocess

import cv2
import pytest

from services.identity.analyzer import FrameIn, analyze_frames
from services.identity.faces import FaceModel
from services.ingest.sampling import ShotSampler
from services.ingest.video import sample_frames


def test_a_face_in_two_frames_of_the_same_timestamp_is_on_screen_for_that_time_once(corpus) -> None:
    # Before: 2 s on screen from two frames standing for the same second (spans summed frame by frame).
    _, frames = sample_frames(corpus("smoke") / "videos" / "v0194.mp4", ShotSampler(1.0))
    ok, jpeg = cv2.imencode(".jpg", next(iter(frames)).bgr)
    assert ok
    same_time = [FrameIn(0, 0.0, 0, 1.0, jpeg.tobytes()), FrameIn(1, 0.0, 0, 1.0, jpeg.tobytes())]
    (person,) = analyze_frames(FaceModel(), same_time, within_video_threshold=0.5).people
    assert person.faces == 2 and person.screen_time_s == pytest.approx(1.0)
    assert (person.first_seen_s, person.last_seen_s) == (0.0, 1.0)


def test_the_last_picture_of_a_slideshow_over_a_longer_song_is_on_screen_until_the_song_ends(corpus, tmp_path) -> None:
    """Three people's photos, 2 s each (6 s of video, a frame a picture), over 10 s of music, as montage tools write a
    post: each person is found once, the first two on screen 2 s, the last one 6 s, as a player shows the last picture
    until the music ends; the video lasts 10 s. Was: 6 s, and the last person 2 s on screen."""
    photos = corpus("smoke").parent / "photos"
    for k, person in enumerate(("tony_blair", "colin_powell", "ariel_sharon")):
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(photos / person / "01.jpg"), "-vf",
                        "scale=480:360:force_original_aspect_ratio=decrease,pad=480:360:(ow-iw)/2:(oh-ih)/2",
                        str(tmp_path / f"img{k + 1}.png")], check=True)
    post = tmp_path / "post.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-framerate", "1/2", "-i", str(tmp_path / "img%d.png"), "-f", "lavfi",
                    "-i", "sine=duration=10", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(post)],
                   check=True)
    info, sampled = sample_frames(post, ShotSampler(1.0))
    frames = []
    for f in sampled:
        ok, jpeg = cv2.imencode(".jpg", f.bgr)
        assert ok
        frames.append(FrameIn(f.index, f.timestamp_s, f.shot, f.span_s, jpeg.tobytes()))
    assert info.duration_s == pytest.approx(10.0, abs=0.05) and len(frames) == 3
    found = analyze_frames(FaceModel(), frames, within_video_threshold=0.5).people
    people = sorted(found, key=lambda p: p.first_seen_s)
    assert [p.faces for p in people] == [1, 1, 1]
    assert [p.screen_time_s for p in people] == pytest.approx([2.0, 2.0, 6.0], abs=0.05)
    assert people[-1].last_seen_s == pytest.approx(10.0, abs=0.05)
