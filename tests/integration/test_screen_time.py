"""Time on screen from the sampled frames' times, with the real face model on a smoke video's frame: frames of
one time count it once."""

from __future__ import annotations

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
