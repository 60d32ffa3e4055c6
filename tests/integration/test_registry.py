"""The identity registry on the real Qdrant engine (Edge, on disk), with synthetic people (no face model)."""

import numpy as np
import pytest

from services.identity import clustering
from services.identity.analyzer import PersonObservation, VideoAnalysis
from services.identity.facestore import vector_hash

RNG = np.random.default_rng(3)
CENTRES = {name: RNG.normal(scale=0.09, size=128) for name in "abcd"}  # pairwise distance ~1.4


def person(k, who, faces=3, quality=0.9, cooccurs=()):
    enc = CENTRES[who] + RNG.normal(scale=0.02, size=(faces, 128))
    return PersonObservation(person=k, encodings=enc, qualities=[quality] * faces, timestamps=[0.0] * faces,
                             boxes=[(0, 100, 100, 0)] * faces, first_seen_s=0.0, last_seen_s=2.0, faces=faces,
                             screen_time_s=2.0, best_face=b"jpeg", best_quality=quality, cooccurs=set(cooccurs))


def video(*people):
    return VideoAnalysis(list(people), frames=3, faces_detected=3, faces_encoded=3, stage_seconds={})


def ids(appearances):
    return [a.influencer_id for a in appearances]


def test_the_same_person_in_two_videos_is_one_influencer_and_two_people_are_two(registry):
    (first,) = ids(registry.assign("v1", video(person(0, "a"))))
    second = ids(registry.assign("v2", video(person(0, "a"), person(1, "b", cooccurs={0}))))
    assert second[0] == first and second[1] != first


def test_people_seen_together_are_never_one_influencer_even_when_alike(registry):
    apps = registry.assign("v1", video(person(0, "a"), person(1, "a", cooccurs={0})))
    assert len(set(ids(apps))) == 2


def test_a_single_poor_sighting_is_not_an_influencer_until_seen_again(registry):
    assert registry.assign("v1", video(person(0, "c", faces=1, quality=0.4))) == []
    registry.assign("v2", video(person(0, "c")))
    assert registry.recluster(["v2"]) == ["v1"]
    assert len(registry.appearances(["v1"])["v1"]) == 1, "the earlier sighting joins once the person is confirmed"


def test_reassigning_a_video_replaces_its_faces(registry):
    registry.assign("v1", video(person(0, "a")))
    registry.assign("v1", video(person(0, "a")))
    assert registry.store.count() == 3


def test_merge_split_and_rename(registry):
    a = ids(registry.assign("v1", video(person(0, "a"))))[0]
    b = ids(registry.assign("v2", video(person(0, "b"))))[0]
    assert registry.merge([a, b]) == ["v2"]
    assert ids(registry.appearances(["v2"])["v2"]) == [a]
    assert registry.split(a, ["v2"]) == ["v2"]
    assert ids(registry.appearances(["v2"])["v2"]) != [a]
    registry.rename(a, "Ann <script>")
    page, _ = registry.influencer_page("", 10)
    assert {i.influencer_id: i.name for i in page}[a] == "Ann <script>"
    with pytest.raises(KeyError):
        registry.rename("inf_missing", "x")


def test_recluster_keeps_ids_and_forget_removes_a_video(registry):
    a = ids(registry.assign("v1", video(person(0, "a"))))[0]
    registry.assign("v2", video(person(0, "a")))
    registry.recluster()
    assert {i.influencer_id for i in registry.influencer_page("", 10)[0]} == {a}
    assert registry.forget("v2") == 3
    assert list(registry.store.video_ids()) == ["v1"]


def test_a_repost_is_the_same_influencer_and_never_crowds_the_neighbours(registry):
    """The same frames under other bytes give identical encodings: stored as copies, not searched."""
    original = person(0, "a")
    (a,) = ids(registry.assign("v1", video(original)))
    for k in range(40):
        assert ids(registry.assign(f"r{k}", video(original))) == [a]
    registry.assign("v2", video(person(0, "b")))
    hits = registry.store.search(original.encodings[:1], 32)[0]
    assert len({h.video_id for h in hits}) <= 2, "one copy of the repost is searched, not forty"
    assert registry.recluster() == []
    assert registry.forget("v1") == 3
    assert registry.store.search(original.encodings[:1], 1)[0][0].distance < 1e-4, "a copy takes the original's place"


def test_reposts_of_a_single_poor_sighting_do_not_make_it_an_influencer(registry):
    """Ten copies of one doubtful sighting are still one sighting: the re-derivation counts videos with their
    own frames, not uploads."""
    doubtful = person(0, "c", faces=1, quality=0.4)
    for k in range(10):
        assert registry.assign(f"r{k}", video(doubtful)) == []
    registry.recluster()
    registry.recluster([f"r{k}" for k in range(10)])
    assert all(apps == [] for apps in registry.appearances([f"r{k}" for k in range(10)]).values())


def on_rounding_edges(encodings, shift):
    """`encodings` with every tenth component put `shift` past a 1e-5 rounding edge (0.5e-5 between two steps):
    with shifts of opposite sign, two such copies hash apart (facestore.vector_hash rounds them apart) while
    lying 2 * |shift| * sqrt(13) apart."""
    out = np.array(encodings, np.float64)
    out[:, ::10] = np.floor(out[:, ::10] * 1e5) / 1e5 + 0.5e-5 + shift
    return out


def test_a_repost_through_another_encoder_is_a_copy_with_the_originals_hash_though_its_own_rounds_apart(registry):
    """dlib and OpenCV's run of the same network give a frame encodings ~5e-7 apart a component; rounded to 1e-5,
    ~60% of them hash apart. A face under SAME_FACE from a stored one is still that face's copy."""
    original = person(0, "a")
    original.encodings = on_rounding_edges(original.encodings, -4e-7)
    repost = person(0, "a")
    repost.encodings = on_rounding_edges(original.encodings, +4e-7)
    assert not {vector_hash(v) for v in original.encodings} & {vector_hash(v) for v in repost.encodings}
    (a,) = ids(registry.assign("v1", video(original)))
    assert ids(registry.assign("r1", video(repost))) == [a]
    stored = {f.point_id: f.record for f in registry.store.faces_in(["v1", "r1"])}
    copies = [r for r in stored.values() if r.video_id == "r1"]
    assert [r.copy for r in copies] == [1, 1, 1], "kept, never searched"
    assert sorted(r.vhash for r in copies) == sorted(r.vhash for r in stored.values() if r.video_id == "v1")
    assert {h.video_id for h in registry.store.search(repost.encodings, 32)[0]} == {"v1"}
    assert registry.forget("v1") == 3
    assert registry.store.search(repost.encodings[:1], 1)[0][0].video_id == "r1", "the copy takes the original's place"


def test_a_single_poor_sighting_reposted_through_another_encoder_is_still_one_sighting(registry):
    doubtful = person(0, "c", faces=1, quality=0.4)
    doubtful.encodings = on_rounding_edges(doubtful.encodings, -4e-7)
    again = person(0, "c", faces=1, quality=0.4)
    again.encodings = on_rounding_edges(doubtful.encodings, +4e-7)
    assert registry.assign("v1", video(doubtful)) == [] and registry.assign("r1", video(again)) == []
    registry.recluster()
    assert all(apps == [] for apps in registry.appearances(["v1", "r1"]).values()), "not confirmed by its repost"


def test_a_face_near_a_stored_one_but_not_the_same_frame_is_no_copy(registry):
    """Two frames of one face are ~0.05 apart or more: 1e-3 is far above an encoder's rounding and is no repost."""
    original = person(0, "a")
    (a,) = ids(registry.assign("v1", video(original)))
    near = person(0, "a")
    near.encodings = original.encodings + 1e-3 / np.sqrt(128)
    assert ids(registry.assign("v2", video(near))) == [a]
    assert {f.record.copy for f in registry.store.faces_in("v2")} == {0}


def test_influencers_are_listed_a_page_at_a_time(registry):
    for k, who in enumerate("abcd"):
        registry.assign(f"v{k}", video(person(0, who)))
    first, token = registry.influencer_page("", 3)
    rest, end = registry.influencer_page(token, 3)
    assert len(first) == 3 and len(rest) == 1 and end == ""
    assert sorted(i.influencer_id for i in first + rest) == [i.influencer_id for i in first + rest]


def test_an_unsafe_video_id_never_reaches_a_file_name(registry):
    with pytest.raises(ValueError, match="not a valid id"):
        registry.assign("../../etc/x", video(person(0, "a")))
    with pytest.raises(ValueError, match="not a face reference"):
        registry.crop_bytes("../analytics.sqlite3")


def test_the_sparse_knn_graph_finds_the_clusters_that_every_pair_finds(registry, monkeypatch):
    """Forty people in 120 videos, re-derived from every pair and from the engine's kNN graph alike."""
    rng = np.random.default_rng(11)
    centres = rng.normal(scale=0.09, size=(40, 128))
    for v in range(120):
        who = rng.choice(40, size=2, replace=False)
        people = []
        for k, c in enumerate(who):
            enc = centres[c] + rng.normal(scale=0.025, size=(3, 128))
            people.append(PersonObservation(
                person=k, encodings=enc, qualities=[0.9] * 3, timestamps=[0.0] * 3, boxes=[(0, 100, 100, 0)] * 3,
                first_seen_s=0.0, last_seen_s=2.0, faces=3, screen_time_s=2.0, best_face=b"jpeg", best_quality=0.9,
                cooccurs={1 - k}))
        registry.assign(f"v{v:03d}", video(*people))
    registry.store.optimize()
    table = clustering.FaceTable.build(registry.store.columns(clustering.TABLE_FIELDS))
    dense = clustering.derive(registry.store, table, 0.62, 0.04)
    monkeypatch.setattr(clustering, "DENSE_FACES", 0)
    sparse = clustering.derive(registry.store, table, 0.62, 0.04)
    assert sparse == dense
    assert len(set(dense)) == 40


def test_a_crop_is_kept_in_the_store_by_reference_and_leaves_with_its_video(registry):
    (app,) = registry.assign("v1", video(person(0, "a")))
    assert app.face_ref == "v1-0.jpg" and registry.crop_bytes(app.face_ref) == b"jpeg"
    registry.forget("v1")
    assert registry.crop_bytes(app.face_ref) is None


def test_an_influencer_seen_in_many_videos_stays_one_on_the_sparse_graph(registry, monkeypatch):
    """Ninety sightings of one person: far more than a node's neighbour list, yet one influencer."""
    for v in range(90):
        registry.assign(f"v{v:03d}", video(person(0, "a"), person(1, "b", cooccurs={0})))
    registry.store.optimize()
    monkeypatch.setattr(clustering, "DENSE_FACES", 0)
    table = clustering.FaceTable.build(registry.store.columns(clustering.TABLE_FIELDS))
    assert len(set(clustering.derive(registry.store, table, 0.62, 0.04))) == 2


def test_faces_pinned_by_hand_keep_their_influencer_through_a_whole_store_recluster(registry):
    a = ids(registry.assign("v1", video(person(0, "a"))))[0]
    registry.assign("v2", video(person(0, "a")))
    v2 = registry.store.faces_in(["v2"])
    registry.store.set_fields([f.point_id for f in v2], {"pinned": "inf_byhand0001", "influencer_id": "inf_byhand0001"})
    registry.store.set_fields([f.point_id for f in registry.store.faces_in(["v1"])], {"pinned": a})
    registry.recluster()
    assert ids(registry.appearances(["v2"])["v2"]) == ["inf_byhand0001"], "kept apart and named as pinned"
    assert ids(registry.appearances(["v1"])["v1"]) == [a]
