import cv2
import numpy as np

from services.identity.detection import drop_containers
from services.identity.quality import assess, frontal, sharpness, square_crop, truncated

EYES_AND_NOSE = np.array([[60, 50], [45, 50], [20, 50], [35, 50], [40, 70]], dtype=float)


def textured(size=100, blur=0):
    img = (np.random.default_rng(0).random((size, size)) * 255).astype(np.uint8)
    return cv2.GaussianBlur(img, (0, 0), blur) if blur else img


def test_sharp_eyes_read_sharp_and_blurred_eyes_read_blurred():
    assert sharpness(textured(), EYES_AND_NOSE) > 0.9
    assert sharpness(textured(blur=6), EYES_AND_NOSE) < 0.08


def test_nose_between_the_eyes_is_frontal_and_beside_them_is_profile():
    assert frontal(EYES_AND_NOSE) == 1.0
    profile = EYES_AND_NOSE.copy()
    profile[4] = [70, 70]
    assert frontal(profile) < 0.35


def test_small_or_blurred_faces_are_not_encoded():
    img = textured(400)
    assert assess(img, (100, 200, 200, 100), EYES_AND_NOSE + 100, 1.0).encodable
    assert not assess(img, (100, 130, 130, 100), EYES_AND_NOSE + 100, 1.0).encodable
    blurred = textured(400, blur=6)
    assert not assess(blurred, (100, 200, 200, 100), EYES_AND_NOSE + 100, 1.0).encodable


def test_a_face_cut_by_the_frame_edge_is_a_worse_picture():
    img = textured(400)
    inside = assess(img, (100, 200, 200, 100), EYES_AND_NOSE + 100, 1.0)
    edge = assess(img, (0, 200, 100, 100), EYES_AND_NOSE + [100, 0], 1.0)
    assert truncated((0, 200, 100, 100), img.shape) and edge.score < inside.score


def test_square_crop_is_padded_and_resized_even_at_the_edge():
    crop = square_crop(np.zeros((100, 100, 3), np.uint8), (0, 50, 50, 0), size=64)
    assert crop.shape == (64, 64, 3)


def test_a_box_holding_a_much_smaller_face_at_its_middle_is_dropped():
    big, small, beside = (0, 400, 400, 0), (150, 250, 250, 150), (0, 900, 100, 800)
    kept = [b for b, _ in drop_containers([(big, 1.0), (small, 1.0), (beside, 1.0)])]
    assert kept == [small, beside]
