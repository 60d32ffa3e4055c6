"""The display matrix turns frames as ffmpeg's autorotate does; matrices are built the way FFmpeg's
av_display_rotation_set and av_display_matrix_flip build them (16.16 fixed point, row-major)."""

import math
from fractions import Fraction

import numpy as np
import pytest

from services.ingest.video import odd_display, shown_aspect_size, upright

ONE = 1 << 16


def matrix(ccw_degrees, hflip=False, vflip=False):
    """FFmpeg's display matrix for a counter-clockwise rotation, then mirrors (PyAV set_display_rotation)."""
    r = math.radians(ccw_degrees)  # av_display_rotation_set takes clockwise degrees: -ccw
    c, s = round(math.cos(r) * ONE), round(math.sin(r) * ONE)
    m = [c, -s, 0, s, c, 0, 0, 0, 1 << 30]
    if hflip:
        m[0], m[3] = -m[0], -m[3]
    if vflip:
        m[1], m[4] = -m[1], -m[4]
    return np.array(m, np.int32)


def scene():
    """A 4x6 image whose every pixel differs, so any wrong turn or mirror shows."""
    return np.arange(24, dtype=np.uint8).reshape(4, 6)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_frame_stored_sideways_is_turned_back_upright(degrees):
    shown = scene()
    stored = np.rot90(shown, -degrees // 90)  # what a phone writes: the display matrix turns it back
    assert np.array_equal(upright(stored, matrix(degrees)), shown)


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
@pytest.mark.parametrize(("hflip", "vflip"), [(True, False), (False, True), (True, True)])
def test_mirrored_orientations_are_undone_too(degrees, hflip, vflip):
    # A player turns the stored frame counter-clockwise, then mirrors it: undo the mirrors, then the turn.
    shown = scene()
    stored = shown
    if vflip:
        stored = stored[::-1]
    if hflip:
        stored = stored[:, ::-1]
    stored = np.rot90(stored, -degrees // 90)
    assert np.array_equal(upright(stored, matrix(degrees, hflip, vflip)), shown)


def test_a_phone_portrait_video_rotated_minus_90_is_turned_clockwise():
    # iPhone portrait clips: stored landscape, ffprobe says "rotation of -90.00 degrees".
    stored = np.array([[1, 2], [3, 4]])
    assert upright(stored, matrix(-90)).tolist() == [[3, 1], [4, 2]]


@pytest.mark.parametrize("m", [None, np.zeros(9, np.int32), matrix(0), matrix(37), np.array([ONE], np.int32)])
def test_no_matrix_an_identity_a_degenerate_or_an_odd_angle_leaves_the_frame_as_stored(m):
    assert np.array_equal(upright(scene(), m), scene())


@pytest.mark.parametrize("degrees", [88.5, 92.4, 178.2, 181.5, 268.1, -88.4])
@pytest.mark.parametrize("hflip", [False, True])
def test_an_angle_within_two_degrees_of_a_right_angle_is_turned_as_that_right_angle_and_not_said(degrees, hflip):
    # ffmpeg's fftools calls no angle odd within 2 degrees of a right angle, in whole degrees (92.4 is 92): turned
    # by an exact right angle.
    right = round(degrees / 90) * 90
    assert np.array_equal(upright(scene(), matrix(degrees, hflip)), upright(scene(), matrix(right, hflip)))
    assert odd_display(matrix(degrees, hflip)) == ""


@pytest.mark.parametrize(("degrees", "said"), [
    (45, "turns the picture 45 degrees counter-clockwise"), (-30, "turns the picture 30 degrees clockwise"),
    (92.6, "turns the picture 93 degrees counter-clockwise"), (3, "turns the picture 3 degrees counter-clockwise")])
def test_an_angle_further_from_a_right_angle_is_left_as_stored_and_said_with_its_angle(degrees, said):
    assert np.array_equal(upright(scene(), matrix(degrees)), scene())
    assert said in odd_display(matrix(degrees)) and "not a quarter turn" in odd_display(matrix(degrees))


def test_a_shear_or_a_perspective_is_left_as_stored_and_said_where_a_scale_is_the_pixels_aspect_and_not_said():
    sheared = np.array([ONE, 0, 0, ONE // 2, ONE, 0, 0, 0, 1 << 30], np.int32)
    perspective = np.array([ONE, 0, 1 << 20, 0, ONE, 0, 0, 0, 1 << 30], np.int32)
    assert odd_display(sheared) == "its display matrix shears the picture by 27 degrees"
    assert odd_display(perspective) == "its display matrix puts the picture in perspective"
    for m in (sheared, perspective):
        assert np.array_equal(upright(scene(), m), scene())
    stretched, doubled = matrix(90).copy(), matrix(0) * 2
    stretched[[0, 3]] *= 2  # FFmpeg reads an uneven scale as the pixels' aspect ratio, which shown_aspect_size applies
    assert odd_display(stretched) == odd_display(doubled) == odd_display(None) == odd_display(matrix(0)) == ""
    assert np.array_equal(upright(scene(), stretched), upright(scene(), matrix(90)))


def test_colour_frames_keep_their_channels_when_turned():
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[0, 0] = (255, 0, 0)
    out = upright(bgr, matrix(90))
    assert out.shape == (3, 2, 3) and out[2, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize(("aspect", "size"), [
    (Fraction(1), (720, 1280)),
    (None, (720, 1280)),  # none stated
    (Fraction(0, 1), (720, 1280)),  # FFmpeg's "unknown"
    (Fraction(4, 3), (960, 1280)),  # HDV: wider pixels, the width grows
    (Fraction(1, 2), (720, 2560)),  # taller pixels, the height grows
    (Fraction(255, 1), (720, 1280)),  # beyond any real camera's: damage, shown as stored
    (Fraction(1, 255), (720, 1280)),
])
def test_the_shown_size_stretches_the_short_side_of_pixels_that_are_not_square(aspect, size):
    assert shown_aspect_size(720, 1280, aspect, max_pixels=4096 * 4096) == size


def test_a_stretch_past_the_pixel_cap_shrinks_the_other_side_instead():
    assert shown_aspect_size(4000, 4000, Fraction(2), max_pixels=4096 * 4096) == (4000, 2000)
    assert shown_aspect_size(4000, 4000, Fraction(1, 2), max_pixels=4096 * 4096) == (2000, 4000)
