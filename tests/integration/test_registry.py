"""The identity registry on a real Qdrant local-mode store, with synthetic people (no face model)."""

import numpy as np
import pytest

from services.identity.analyzer import PersonObservation, VideoAnalysis
from services.identity.registry import IdentityRegistry
from services.identity.vectors import FaceIndex, open_client

RNG = np.random.default_rng(3)
CENTRES = {name: RNG.normal(scale=0.09, size=128) for name in "abcd"}  # pairwise distance ~1.4


def person(k, who, faces=3, quality=0.9, cooccurs=()):
    enc = CENTRES[who] + RNG.normal(scale=0.02, size=(faces, 128))
    return PersonObservation(person=k, encodings=enc, qualities=[quality] * faces, timestamps=[0.0] * faces,
                             boxes=[(0, 100, 100, 0)] * faces, first_seen_s=0.0, last_seen_s=2.0, faces=faces,
                             screen_time_s=2.0, best_face=b"jpeg", best_quality=quality, cooccurs=set(cooccurs))


def video(*people):
    return VideoAnalysis(list(people), frames=3, faces_detected=3, faces_encoded=3, stage_seconds={})


@pytest.fixture
def registry(tmp_path):
    index = FaceIndex(open_client("", "", tmp_path / "q"), "faces", local=True)
    index.ensure()
    yield IdentityRegistry(index, tmp_path / "crops", threshold=0.55, margin=0.04, cluster_threshold=0.62)
    index.close()


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
    changed = registry.recluster(["v2"])
    assert len(changed.get("v1", [])) == 1, "the earlier sighting joins once the person is confirmed"


def test_reassigning_a_video_replaces_its_faces(registry):
    registry.assign("v1", video(person(0, "a")))
    registry.assign("v1", video(person(0, "a")))
    assert sum(1 for _ in registry.index.scroll()) == 3


def test_merge_split_and_rename(registry):
    a = ids(registry.assign("v1", video(person(0, "a"))))[0]
    b = ids(registry.assign("v2", video(person(0, "b"))))[0]
    changed = registry.merge([a, b])
    assert ids(changed["v2"]) == [a]
    changed = registry.split(a, ["v2"])
    assert ids(changed["v2"]) != [a]
    registry.rename(a, "Ann <script>")
    assert {i.influencer_id: i.name for i in registry.influencers()}[a] == "Ann <script>"
    with pytest.raises(KeyError):
        registry.rename("inf_missing", "x")


def test_recluster_keeps_ids_and_forget_removes_a_video(registry):
    a = ids(registry.assign("v1", video(person(0, "a"))))[0]
    registry.assign("v2", video(person(0, "a")))
    registry.recluster()
    assert {i.influencer_id for i in registry.influencers()} == {a}
    assert registry.forget("v2") == 3
    assert registry.video_ids() == {"v1"}
