"""The repost rule (services/ingest/signature.py) on constructed frames: compression noise is the same
frame; another face in the same setting, other times, another duration or one frame of difference is not."""

from __future__ import annotations

import cv2
import numpy as np

from services.ingest import signature as sig

RNG = np.random.default_rng(7)
SETTING = cv2.GaussianBlur(RNG.integers(0, 255, (1280, 720, 3), dtype=np.uint8), (0, 0), 9)


def scene(face_seed: int, size: int = 120, shift: int = 0) -> np.ndarray:
    """The setting with a textured patch (a stand-in face) of `size` px pasted at one place."""
    frame = SETTING.copy()
    face = np.random.default_rng(face_seed).integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    patch = cv2.resize(face, (size, size), interpolation=cv2.INTER_NEAREST)
    frame[500 + shift:500 + shift + size, 300:300 + size] = patch
    return frame


def recompressed(frame: np.ndarray, quality: int = 30) -> np.ndarray:
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def video(frames: list[np.ndarray], times: list[float] | None = None, duration: float = 4.0) -> sig.Signature:
    times = times or [float(k) for k in range(len(frames))]
    made = sig.signature(duration, times, [sig.frame_print(f) for f in frames])
    assert made is not None
    return made


def test_the_same_frames_compressed_again_are_a_repost_and_share_a_lookup_key() -> None:
    frames = [scene(1, shift=10 * k) for k in range(4)]
    original, again = video(frames), video([recompressed(f) for f in frames])
    assert sig.is_repost(original, again) and sig.is_repost(again, original)
    assert set(sig.query_keys(again)) & set(sig.lookup_keys(original))


def test_another_person_in_the_same_setting_is_not_a_repost_even_in_a_single_frame() -> None:
    frames = [scene(1, shift=10 * k) for k in range(4)]
    assert not sig.is_repost(video(frames), video([scene(2, shift=10 * k) for k in range(4)]))
    one_differs = frames[:3] + [scene(2, shift=30)]
    assert not sig.is_repost(video(frames), video(one_differs))


def test_another_cut_other_times_or_another_duration_is_not_a_repost() -> None:
    frames = [scene(1, shift=10 * k) for k in range(4)]
    assert not sig.is_repost(video(frames), video(frames[::-1]))  # the shots in another order
    assert not sig.is_repost(video(frames), video(frames, times=[0.0, 1.5, 2.5, 3.5]))
    assert not sig.is_repost(video(frames), video(frames, duration=5.0))


def test_flat_frames_key_nothing_and_a_video_of_too_many_frames_gets_no_signature() -> None:
    black = np.zeros((1280, 720, 3), np.uint8)
    assert sig.lookup_keys(video([black, black])) == ["n2.d40"]  # the length key alone
    many = [sig.frame_print(scene(1))] * (sig.MAX_FRAMES + 1)
    assert sig.signature(100.0, [float(k) for k in range(len(many))], many) is None


def test_a_signature_survives_its_stored_form() -> None:
    made = video([scene(3), scene(4)])
    back = sig.Signature.from_parts(made.duration_s, list(made.times_s), made.to_bytes())
    assert sig.is_repost(made, back)
