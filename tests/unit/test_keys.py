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
