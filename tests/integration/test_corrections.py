"""Corrections by hand on a real registry (Qdrant Edge on disk, synthetic encodings): each action, and that
each still holds after more videos are ingested and the whole store is re-derived."""

import hashlib

import numpy as np
import pytest
from test_registry import CENTRES, person, video  # synthetic people, shared with the registry tests

RNG = np.random.default_rng(17)


def offset(centre, distance, seed):
    """A centre `distance` from `centre` in a random direction (faces add ~0.32 of noise between people)."""
    direction = np.random.default_rng(seed).normal(size=128)
    return centre + direction / np.linalg.norm(direction) * distance


# A person close to "a": faces of the two are ~0.53 apart, under both thresholds (a re-derivation joins them).
CLOSE = offset(CENTRES["a"], 0.35, 1)
# Another close to "a", ~0.65 apart: over the thresholds (two influencers), within the review band.
BAND = offset(CENTRES["a"], 0.52, 2)


def near(k, centre, faces=3, cooccurs=()):
    p = person(k, "a", faces=faces, cooccurs=cooccurs)
    p.encodings = centre + RNG.normal(scale=0.02, size=(faces, 128))
    return p


def who(registry, video_id):
    return [a.influencer_id for a in registry.appearances([video_id])[video_id]]


def ingest(registry, *videos):
    """More videos arrive: each assigned, then the batch's neighbourhood re-derived, then the whole store."""
    for video_id, people in videos:
        registry.assign(video_id, video(*people))
    registry.recluster([v for v, _ in videos])
    registry.recluster()


def test_a_merge_of_two_looks_of_one_person_holds_after_more_videos_and_a_whole_store_recluster(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (b,) = [x.influencer_id for x in registry.assign("v2", video(near(0, BAND)))]
    assert a != b, "too far apart for the thresholds"
    assert registry.merge([a, b]) == ["v2"]
    ingest(registry, ("v3", [person(0, "a")]), ("v4", [near(0, BAND)]))
    assert [who(registry, v) for v in ("v1", "v2", "v3", "v4")] == [[a]] * 4


def test_a_merge_of_two_unlike_faces_keeps_them_together_through_a_whole_store_recluster(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    assert registry.merge([a, b]) == ["v2"]
    ingest(registry, ("v3", [person(0, "c")]))
    assert who(registry, "v1") == who(registry, "v2") == [a]


def test_a_split_holds_after_more_videos_and_a_whole_store_recluster(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(near(0, CLOSE)))
    assert who(registry, "v2") == [a], "close enough to be taken for the same person"
    assert registry.split(a, ["v2"]) == ["v2"]
    (s,) = who(registry, "v2")
    ingest(registry, ("v3", [person(0, "a")]), ("v4", [near(0, CLOSE)]))
    assert who(registry, "v1") == [a] and who(registry, "v2") == [s] and s != a


def test_moving_an_appearance_to_another_influencer_holds_and_keeps_it_apart_from_the_first(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(near(0, CLOSE)))
    (b,) = [x.influencer_id for x in registry.assign("v3", video(person(0, "b")))]
    changed, target = registry.move("v2", a, b)
    assert (changed, target) == (["v2"], b)
    ingest(registry, ("v4", [near(0, CLOSE)]), ("v5", [person(0, "b")]))
    assert who(registry, "v1") == [a] and who(registry, "v2") == [b] and who(registry, "v3") == [b]


def test_moving_an_appearance_to_a_new_influencer_holds(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(near(0, CLOSE)))
    changed, target = registry.move("v2", a)
    assert changed == ["v2"] and target not in ("", a)
    ingest(registry, ("v3", [near(0, CLOSE)]))
    assert who(registry, "v2") == [target] and who(registry, "v1") == [a]
    with pytest.raises(KeyError, match="no appearance"):
        registry.move("v1", target)


def two_free_influencers(registry):
    """Two close people as two influencers with no constraint between them (as a re-derivation with another
    threshold could have left them)."""
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(near(0, CLOSE)))
    registry.split(a, ["v2"])
    (s,) = who(registry, "v2")
    everyone = [f.point_id for f in registry.store.scroll()]
    registry.store.set_pins({"": everyone})
    for record in list(registry.store.side_records("review")):
        registry.store.set_side("review", f"{record['a']}|{record['b']}", None)
    return a, s


def test_without_a_constraint_two_close_influencers_join_on_the_next_recluster(registry):
    a, s = two_free_influencers(registry)
    registry.recluster()
    assert who(registry, "v1") == who(registry, "v2"), "the control: a re-derivation alone joins them"


def test_a_different_answer_keeps_two_close_influencers_apart_through_later_batches(registry):
    a, s = two_free_influencers(registry)
    assert registry.answer(a, s, "different") == []
    ingest(registry, ("v3", [person(0, "a")]), ("v4", [near(0, CLOSE)]))
    assert who(registry, "v1") == [a] and who(registry, "v2") == [s]


def test_a_same_answer_merges_and_holds(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (c,) = [x.influencer_id for x in registry.assign("v2", video(near(0, BAND)))]
    assert registry.answer(a, c, "same") == ["v2"]
    ingest(registry, ("v3", [near(0, BAND)]))
    assert who(registry, "v2") == [a] and who(registry, "v3") == [a]
    with pytest.raises(ValueError, match="not one of"):
        registry.answer(a, c, "maybe")


def test_a_name_set_and_cleared_pins_the_cluster_and_labels_it(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.rename(a, "  Ann  ")
    assert registry.labels([a])[0].name == "Ann"
    assert all(f.record.pinned == a for f in registry.store.faces_of(a))
    registry.rename(a, "")
    assert registry.labels([a])[0].name == "" and registry.names() == {}
    with pytest.raises(ValueError, match="longer than"):
        registry.rename(a, "x" * 500)


def test_hiding_keeps_the_influencer_and_marks_it_hidden_until_shown_again(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.hide(a, True)
    assert registry.influencer(a).hidden and registry.labels([a])[0].hidden
    assert registry.influencer_page("", 10)[0][0].hidden
    ingest(registry, ("v2", [person(0, "a")]))
    assert who(registry, "v2") == [a] and registry.influencer(a).hidden
    registry.hide(a, False)
    assert not registry.influencer(a).hidden


def test_deleting_a_person_erases_faces_crops_name_and_pins_and_leaves_an_audit_record_without_the_id(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    apps = registry.assign("v2", video(person(0, "a"), person(1, "b", cooccurs={0})))
    b = [x.influencer_id for x in apps if x.influencer_id != a][0]
    registry.rename(a, "Ann")
    registry.hide(a, True)
    registry.enrol("Ann", [("00000000000000e1", CENTRES["a"])])
    assert sorted(registry.delete(a, "k" * 64)) == ["v1", "v2"]
    assert registry.store.faces_of(a) == [] and registry.store.faces_where("pinned", [a]) == []
    assert registry.names() == {} and registry.store.hidden() == set()
    assert registry.crop_bytes("v1-0.jpg") is None and registry.crop_bytes("v2-1.jpg") == b"jpeg"
    assert who(registry, "v2") == [b], "the other person of the video stays"
    assert registry.appearances(["v1"]) == {"v1": []}
    assert sorted(registry.store.video_ids()) == ["v1", "v2"], "still listed: a resync clears it in analytics"
    (audit,) = list(registry.store.side_records("audit"))
    assert audit["action"] == "delete" and audit["subject_hmac"] == "k" * 64, "the keyed hash the servicer gives"
    assert "subject_sha256" not in audit and hashlib.sha256(a.encode()).hexdigest() not in str(audit)
    assert a not in str(audit) and "Ann" not in str(audit) and audit["time_utc"].endswith("+00:00")
    with pytest.raises(KeyError):
        registry.delete(a)


def test_enrolling_names_the_matching_influencer_and_its_references_are_never_appearances(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    photo = "00000000000000f1"
    target, changed = registry.enrol("Ann", [(photo, CENTRES["a"] + RNG.normal(scale=0.02, size=128))])
    assert target == a and changed == [] and registry.names() == {a: "Ann"}
    assert registry.influencer(a).enrolled and registry.influencer(a).videos == ["v1"]
    assert registry.appearances([photo]) == {photo: []}
    assert photo not in set(registry.store.video_ids())
    ingest(registry, ("v2", [person(0, "a")]))
    assert who(registry, "v2") == [a] and registry.names() == {a: "Ann"}


def test_an_enrolled_stranger_is_a_new_influencer_that_later_videos_join(registry):
    centre = RNG.normal(scale=0.09, size=128)
    target, _ = registry.enrol("Zed", [("00000000000000f2", centre), ("00000000000000f3", centre + 0.003)])
    assert registry.influencer(target).videos == [] and registry.influencer(target).enrolled
    registry.assign("v1", video(near(0, centre)))
    assert who(registry, "v1") == [target], "the reference photos help assignment"
    registry.recluster()
    assert who(registry, "v1") == [target] and registry.names() == {target: "Zed"}
    assert "00000000000000f2" not in registry.recluster(), "a reference photo is never a changed video"


def test_a_same_answer_keeps_the_id_of_the_influencer_with_more_faces(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(person(0, "a")))
    (b,) = [x.influencer_id for x in registry.assign("v3", video(near(0, BAND)))]
    assert registry.answer(b, a, "same") == ["v3"]
    assert who(registry, "v3") == [a] and registry.influencer(b) is None
