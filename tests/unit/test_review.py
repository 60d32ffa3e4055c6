"""The review queue's pure choices: candidates from neighbours, the closest people of a pair, the order."""

import numpy as np

from services.identity import review
from services.identity.facestore import FacePoint, FaceRecord


def person(video, influencer, ambiguous=False, crop=""):
    return review.Person(video, 0, influencer, ambiguous, crop=crop or f"{video}-0.jpg")


def item(a, b, distance, reason=review.NEAR, probability=0.0):
    return review.Item(a, b, distance, reason, "", "", "", "", 0.0, 0.0, probability)


def test_people_are_summarised_by_their_mean_face_and_best_face_leaving_out_copies_references_and_skipped():
    def face(k, quality, **kw):
        record = FaceRecord(video_id="v1", person=0, influencer_id="inf_a", timestamp_s=float(k), quality=quality,
                            crop="v1-0.jpg", **kw)
        return FacePoint(str(k), np.full(128, float(k), np.float32), record)

    points = [face(1, 0.2), face(3, 0.9), face(5, 0.5, copy=1), face(7, 0.5, reference=1)]
    (p,) = review.summarise(points, set())
    assert p.faces == 2 and np.allclose(p.mean, 2.0) and p.best_s == 3.0
    assert review.summarise(points, {"inf_a"}) == []


def test_candidates_are_other_influencers_within_the_radius_and_the_nearest_other_of_an_ambiguous_person():
    people = [person("v1", "inf_a"), person("v2", "inf_b", ambiguous=True)]
    hits = [[("inf_a", "v1", 0.1), ("", "v9", 0.2), ("inf_b", "v2", 0.7), ("inf_c", "v3", 0.9)],
            [("inf_b", "v2", 0.1), ("inf_c", "v3", 1.2)]]
    assert review.candidates(people, hits, 0.74) == {(0, "v2"): review.NEAR, (1, "v3"): review.AMBIGUOUS}


def test_a_pair_is_shown_by_its_closest_two_people_and_is_ambiguous_if_any_of_its_matches_was():
    a1, a2, b1 = person("v1", "inf_a"), person("v2", "inf_a"), person("v3", "inf_b")
    items = review.closest_pairs([(b1, a1, 0.70, review.NEAR), (a2, b1, 0.65, review.NEAR),
                                  (a1, b1, 0.72, review.AMBIGUOUS)], 0.74)
    (got,) = items.values()
    assert (got.a, got.b, got.distance, got.reason) == ("inf_a", "inf_b", 0.65, review.AMBIGUOUS)
    assert (got.video_a, got.video_b) == ("v2", "v3"), "each side's face is its own closest person"


def test_a_pair_is_worded_by_its_closest_two_peoples_distance():
    a1, b1, c1, c2 = person("v1", "inf_a"), person("v2", "inf_b"), person("v3", "inf_c"), person("v1", "inf_c")
    items = review.closest_pairs([(a1, b1, 0.70, ""), (a1, c1, 1.05, ""), (b1, c1, 0.74, ""), (a1, c2, 0.9, "")],
                                 0.74)
    reasons = {key: i.reason for key, i in items.items()}
    assert reasons == {("inf_a", "inf_b"): review.NEAR, ("inf_a", "inf_c"): review.SAME_VIDEO,
                       ("inf_b", "inf_c"): review.FAR}
    far = review.closest_pairs([(a1, c1, 1.05, "")], 0.74)
    assert [i.reason for i in far.values()] == [review.FAR], "1.05 apart is not near a 0.74 radius"


def test_the_queue_holds_the_likely_most_likely_first_and_never_an_answered_pair():
    items = [item("inf_a", "inf_b", 0.70, probability=0.6), item("inf_a", "inf_c", 0.63, probability=0.9),
             item("inf_b", "inf_c", 0.50, probability=0.2), item("inf_d", "inf_e", 0.40, review.AMBIGUOUS, 0.95),
             item("inf_e", "inf_f", 0.65, probability=0.99)]
    got = review.queue(items, {("inf_e", "inf_f")}, 0.5, 10)
    assert [(i.a, i.b) for i in got.items] == [("inf_d", "inf_e"), ("inf_a", "inf_c"), ("inf_a", "inf_b")]
    assert (got.likely, got.unlikely) == (3, 1)
    assert len(review.queue(items, set(), 0.5, 1).items) == 1
    assert review.pair_key("inf_b", "inf_a") == ("inf_a", "inf_b")


def test_a_small_influencer_untouched_by_answers_gets_its_most_likely_pair_once_above_the_lower_bound() -> None:
    items = [item("s", "big", 0.58, probability=0.36), item("s", "other", 0.61, probability=0.16),
             item("t", "big", 0.70, probability=0.004), item("u", "big", 0.60, probability=0.2),
             item("big", "other", 0.55, probability=0.3)]
    videos = {"s": 1, "t": 1, "u": 1, "big": 13, "other": 9}
    chosen = review.small_influencer_items(items, {("big", "u")}, videos, most_videos=1, least=0.01)
    assert [(i.a, i.b) for i in chosen] == [("s", "big")], "s once (its best), t under the bound, u answered before"
    assert review.small_influencer_items(items, set(), videos, most_videos=0, least=0.0) == []
