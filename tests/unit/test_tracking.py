import numpy as np

from services.identity.tracking import (
    Face,
    attribute_detections,
    faces_to_encode,
    group_people,
    iou,
    link_tracks,
)


def face(frame, box, shot=0, quality=0.5, encodable=True):
    return Face(frame=frame, timestamp_s=float(frame), span_s=1.0, shot=shot, box=box, quality=quality,
                encodable=encodable)


def test_iou_of_identical_boxes_is_one_and_of_disjoint_boxes_is_zero():
    assert iou((0, 10, 10, 0), (0, 10, 10, 0)) == 1.0
    assert iou((0, 10, 10, 0), (20, 30, 30, 20)) == 0.0


def test_a_face_that_stays_put_is_one_track_and_two_faces_in_a_frame_are_two():
    frames = [[face(k, (100, 200, 200, 100)), face(k, (100, 500, 200, 400))] for k in range(4)]
    tracks = link_tracks(frames)
    assert len(tracks) == 2
    assert all(len(t.faces) == 4 for t in tracks)


def test_tracks_never_cross_a_cut():
    frames = [[face(0, (100, 200, 200, 100), shot=0)], [face(1, (100, 200, 200, 100), shot=1)]]
    assert len(link_tracks(frames)) == 2


def test_best_faces_are_spread_over_the_track():
    frames = [[face(k, (100, 200, 200, 100), quality=q)] for k, q in enumerate([0.1, 0.9, 0.2, 0.3, 0.8, 0.1])]
    (track,) = link_tracks(frames)
    chosen = faces_to_encode(track, per_track=3)
    assert [f.frame for f in chosen] == [1, 3, 4]


def test_faces_not_fit_to_encode_are_never_chosen():
    (track,) = link_tracks([[face(0, (0, 50, 50, 0), encodable=False)]])
    assert faces_to_encode(track) == []


def test_grouping_joins_close_faces_but_never_two_faces_of_one_frame():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128) * 0.1, rng.normal(size=128) * 0.1 + 0.2
    faces = [face(0, (0, 1, 1, 0)), face(1, (0, 1, 1, 0)), face(1, (0, 3, 1, 2)), face(2, (0, 1, 1, 0))]
    for f, v in zip(faces, [a, a + 0.001, a + 0.002, b], strict=True):
        f.encoding = v
    people = group_people(faces, threshold=0.5)
    assert faces[0].person == faces[1].person
    assert faces[1].person != faces[2].person
    assert faces[3].person not in (faces[0].person,)
    assert people == 3


def test_unencoded_faces_take_the_person_of_their_track():
    frames = [[face(k, (100, 200, 200, 100))] for k in range(3)]
    tracks = link_tracks(frames)
    frames[1][0].encoding = np.zeros(128)
    frames[1][0].person = 4
    attribute_detections(tracks)
    assert [f[0].person for f in frames] == [4, 4, 4]
