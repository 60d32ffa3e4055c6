from services.identity.keys import KeyIndex


def test_points_are_found_by_video_and_by_influencer():
    keys = KeyIndex()
    keys.put("p1", "v1", "a")
    keys.put("p2", "v1", "b")
    keys.put("p3", "v2", "a")
    assert keys.of_videos(["v1"]) == ["p1", "p2"]
    assert keys.of_influencers(["a"]) == ["p1", "p3"]
    assert len(keys) == 3


def test_reassigning_and_removing_keep_the_tables_in_step():
    keys = KeyIndex()
    keys.put("p1", "v1", "a")
    keys.assign(["p1", "unknown"], "b")
    assert keys.of_influencers(["a"]) == [] and keys.of_influencers(["b"]) == ["p1"]
    keys.put("p1", "v2", "b")  # overwritten in place: one point, one row
    assert keys.of_videos(["v1"]) == [] and keys.of_videos(["v2"]) == ["p1"]
    keys.remove(["p1"])
    assert len(keys) == 0 and keys.of_influencers(["b"]) == []


def test_exact_vectors_find_the_nearest_and_forget_removed_ones():
    import numpy as np

    from services.identity.keys import ExactVectors

    vecs = ExactVectors(dim=3)
    for k in range(2000):  # past the first growth
        vecs.put(f"p{k}", np.array([k, 0.0, 0.0]))
    hits = vecs.nearest(np.array([[10.2, 0.0, 0.0]]), 3)[0]
    assert [h[0] for h in hits] == ["p10", "p11", "p9"]
    assert abs(hits[0][1] - 0.2) < 1e-4
    vecs.remove(["p10"])
    vecs.put("p11", np.array([500.0, 0.0, 0.0]))  # moved
    assert [h[0] for h in vecs.nearest(np.array([[10.2, 0.0, 0.0]]), 2)[0]] == ["p9", "p12"]
