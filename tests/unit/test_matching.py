import numpy as np

from services.identity.matching import (
    cluster_people,
    decide,
    influencer_distances,
    inherit_ids,
    new_influencer_id,
    person_distances,
)


def test_distance_to_an_influencer_is_the_median_over_the_persons_faces():
    hits = [[("a", 0.3), ("b", 0.5)], [("a", 0.4)], [("b", 0.2), ("a", 0.9)]]
    d = influencer_distances(hits)
    assert d["a"] == 0.4
    assert d["b"] == 0.5  # the face that missed b counts the farthest distance seen (0.9)


def test_nearest_influencer_under_the_threshold_wins():
    assert decide({"a": 0.3, "b": 0.7}, 0.5, 0.05, set()).influencer_id == "a"


def test_nothing_under_the_threshold_means_a_new_influencer():
    assert decide({"a": 0.55}, 0.5, 0.05, set()).influencer_id is None


def test_two_close_candidates_are_flagged_ambiguous():
    d = decide({"a": 0.40, "b": 0.42}, 0.5, 0.05, set())
    assert d.influencer_id == "a" and d.ambiguous


def test_an_influencer_already_given_to_someone_in_the_same_frame_is_not_reused():
    assert decide({"a": 0.3, "b": 0.45}, 0.5, 0.05, {"a"}).influencer_id == "b"


def test_founding_ids_are_deterministic():
    assert new_influencer_id("v1", 0) == new_influencer_id("v1", 0) != new_influencer_id("v1", 1)


def test_clustering_does_not_depend_on_row_order():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 128))
    rows = np.concatenate([c + rng.normal(scale=0.01, size=(5, 128)) for c in centres])
    labels = cluster_people(person_distances([r[None] for r in rows]), [], threshold=1.0)
    order = rng.permutation(len(rows))
    shuffled = cluster_people(person_distances([r[None] for r in rows[order]]), [], threshold=1.0)
    same = lambda lab: {frozenset(np.flatnonzero(np.array(lab) == k)) for k in set(lab)}  # noqa: E731
    assert {frozenset(order[list(s)]) for s in same(shuffled)} == same(labels)
    assert len(set(labels)) == 4


def test_people_seen_together_are_never_clustered():
    assert cluster_people(np.zeros((2, 2)), [(0, 1)], threshold=1.0) == [0, 1]


def test_person_distance_is_the_mean_over_all_pairs_of_their_faces():
    a = np.zeros((2, 128))
    b = np.zeros((1, 128))
    b[0, 0] = 1.0
    c = np.zeros((2, 128))
    c[:, 1] = [3.0, 5.0]
    d = person_distances([a, b, c])
    assert np.allclose(np.diag(d), [0.0, 0.0, 1.0])
    assert np.isclose(d[0, 1], 1.0) and np.isclose(d[0, 2], 4.0)
    assert np.isclose(d[1, 2], (np.sqrt(10) + np.sqrt(26)) / 2)


def test_new_clusters_inherit_the_id_they_overlap_most():
    ids = inherit_ids(["x", "x", "y", ""], [0, 0, 0, 1], ["f0", "f1", "f2", "f3"])
    assert ids == ["x", "x", "x", "f3"]


def test_a_person_between_two_distinct_clusters_joins_neither():
    # b and c are far apart; a is at 0.50 from b and 0.52 from c: too close to call.
    d = np.array([[0.0, 0.50, 0.52], [0.50, 0.0, 0.9], [0.52, 0.9, 0.0]])
    assert cluster_people(d, [], threshold=0.6, margin=0.04) == [0, 1, 2]
    assert cluster_people(d, [], threshold=0.6, margin=0.0) == [0, 0, 1]
