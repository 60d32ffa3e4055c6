"""The review queue's pair model and ordering, pure: constructed pairs of people in, evidence, probabilities and
the queue out."""

import types

import numpy as np
import pytest

from services.analytics.web.likelihood import in_words
from services.identity import review_weights
from services.identity.encoder_choice import NEW_STORE_ENCODER
from services.identity.review import Item, Person, Queue, queue, same_video_pairs, together
from services.identity.review_model import FEATURES, as_wholes, evidence, features, probability

RNG = np.random.default_rng(5)


def faces(centre: np.ndarray, n: int, spread: float = 0.02) -> np.ndarray:
    return centre + RNG.normal(scale=spread, size=(n, 128))


def at_distance(centre: np.ndarray, d: float) -> np.ndarray:
    step = RNG.normal(size=128)
    return centre + d * step / np.linalg.norm(step)


CENTRE = RNG.normal(scale=0.09, size=128)


def test_the_weights_are_for_the_features_the_model_computes() -> None:
    assert tuple(review_weights.FEATURES) == FEATURES
    assert len(review_weights.MEAN) == len(review_weights.SCALE) == len(review_weights.COEF) == len(FEATURES)


def test_the_shipped_model_was_fitted_on_the_encodings_a_new_store_makes() -> None:
    """Its distances are on that encoder's scale: opencv-mirror's are ~4% shorter than dlib's plain ones."""
    assert review_weights.ENCODER == NEW_STORE_ENCODER


def test_evidence_measures_closest_and_median_face_distances_and_the_share_of_close_face_pairs() -> None:
    a = np.stack([CENTRE, CENTRE])
    b = np.stack([at_distance(CENTRE, 0.3), at_distance(CENTRE, 0.9), at_distance(CENTRE, 1.0)])
    e = evidence(a, b, [0.9, 0.7], [0.5, 0.5, 0.6])
    assert e.d_min == pytest.approx(0.3) and e.d_median == pytest.approx(0.9)
    assert e.close_share == pytest.approx(2 / 6) and e.quality == pytest.approx(1.6 / 3) and e.faces == 2
    assert features(e).shape == (len(FEATURES),)
    with pytest.raises(ValueError, match="at least one face"):
        evidence(np.zeros((0, 128)), b, [], [0.5])


def pair(a: np.ndarray, b: np.ndarray, quality: float = 0.8, **where: object):
    """The evidence of two one-person influencers with faces `a` and `b`."""
    e = evidence(a, b, [quality] * len(a), [quality] * len(b), **where)
    return as_wholes(e, a.mean(axis=0), b.mean(axis=0))


def test_two_people_seen_in_one_frame_are_never_one_person_however_alike() -> None:
    a, b = faces(CENTRE, 4), faces(CENTRE, 4)
    assert probability(pair(a, b)) > 0.9
    assert probability(pair(a, b, same_frame=True)) == 0.0


def test_a_bench_can_score_a_pair_with_another_models_weights_and_the_package_keeps_its_own() -> None:
    a, b = faces(CENTRE, 4), faces(at_distance(CENTRE, 0.5), 4)
    other = types.ModuleType("weights_fitted_without_some_people")
    other.MEAN, other.SCALE = review_weights.MEAN, review_weights.SCALE
    other.COEF, other.INTERCEPT = (0.0,) * len(FEATURES), 0.0
    assert probability(pair(a, b), other) == pytest.approx(0.5)
    assert probability(pair(a, b, same_frame=True), other) == 0.0
    assert probability(pair(a, b)) == probability(pair(a, b), review_weights) != pytest.approx(0.5)


def test_the_probability_falls_as_the_faces_move_apart() -> None:
    a = faces(CENTRE, 5, 0.03)
    ps = [probability(pair(a, faces(at_distance(CENTRE, d), 5, 0.03))) for d in (0.2, 0.4, 0.5, 0.6, 0.8)]
    assert ps == sorted(ps, reverse=True) and ps[0] > 0.9 and ps[-1] < 0.05, ps


def test_the_influencers_as_wholes_weigh_more_than_their_closest_people() -> None:
    """Two look-alikes whose other people are far apart are less likely one person than a split whose
    people are all near, at the same closest distance."""
    a, b = faces(CENTRE, 3, 0.03), faces(at_distance(CENTRE, 0.45), 3, 0.03)
    split = as_wholes(evidence(a, b, [0.8] * 3, [0.8] * 3), np.stack([a.mean(axis=0)] * 3), b.mean(axis=0))
    far = np.stack([at_distance(CENTRE, 0.9) for _ in range(3)])
    alike = as_wholes(evidence(a, b, [0.8] * 3, [0.8] * 3), np.vstack([a.mean(axis=0), far]), b.mean(axis=0))
    assert alike.people_close < split.people_close and probability(alike) < probability(split)


def test_the_probability_reads_in_words_and_as_a_whole_percentage() -> None:
    assert in_words(0.82) == "likely the same — 82%"
    assert in_words(0.55) == "perhaps the same — 55%"
    assert in_words(0.3) == "probably different — 30%"
    assert in_words(0.004) == "unlikely — under 1%", "a model's 0.4% is not impossible"
    assert in_words(0.0) == "unlikely — 0%"
    assert in_words(0.998) == "likely the same — over 99%"
    assert in_words(1.2) == "likely the same — 100%"


def item(a: str, b: str, p: float, d: float = 0.7) -> Item:
    return Item(a, b, d, "near the threshold", "", "", "", "", 0.0, 0.0, p)


def test_the_queue_is_ordered_by_probability_and_keeps_the_less_likely_behind_the_floor() -> None:
    items = [item("inf_a", "inf_b", 0.3), item("inf_c", "inf_d", 0.9), item("inf_e", "inf_f", 0.6, 0.8),
             item("inf_g", "inf_h", 0.6, 0.65), item("inf_i", "inf_j", 0.05)]
    q = queue(items, set(), 0.5, 10)
    assert [(i.a, i.probability) for i in q.items] == [("inf_c", 0.9), ("inf_g", 0.6), ("inf_e", 0.6)]
    assert (q.likely, q.unlikely) == (3, 2)
    everything = queue(items, {("inf_c", "inf_d")}, 0.5, 10, unlikely=True)
    assert [i.a for i in everything.items] == ["inf_g", "inf_e", "inf_a", "inf_i"], "answered pairs never return"
    assert (everything.likely, everything.unlikely) == (2, 2)
    assert queue(items, set(), 0.5, 1) == Queue([items[1]], 3, 2), "the counts are of the whole queue, not the page"


def person(video: str, k: int, influencer: str, cooccurs: set[int] = frozenset()) -> Person:
    return Person(video, k, influencer, cooccurs=frozenset(cooccurs))


def test_people_of_one_video_never_in_one_frame_are_candidates_and_those_seen_together_are_not() -> None:
    people = [person("v1", 0, "inf_a", {1}), person("v1", 1, "inf_b", {0}), person("v1", 2, "inf_c"),
              person("v1", 3, "inf_c"), person("v2", 0, "inf_a")]
    assert same_video_pairs(people) == [(0, 2), (0, 3), (1, 2), (1, 3)]
    seen = together(people)
    assert seen[("inf_a", "inf_b")].same_frame and not seen[("inf_a", "inf_c")].same_frame
    assert seen[("inf_a", "inf_c")].videos == {"v1"}
