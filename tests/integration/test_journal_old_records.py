"""A split or a move killed part way and journalled by an older release, whose record did not keep the new
influencer's id, replayed at the next start on a real registry (Qdrant Edge on disk, synthetic encodings):
the kill is played by pinning the faces the interrupted correction had moved, as its writes left them."""

from test_corrections import CLOSE, near, who
from test_registry import person, video

from services.identity import journal
from services.identity.corrections import PIN_CHUNK, answered_pairs, merged_into
from services.identity.review import pair_key


def moved_as_a_kill_left_them(registry, influencer_id, video_ids, kept, target):
    """`influencer_id`'s faces in `video_ids` given to `target` and pinned there, and the faces of `kept` (the
    videos left to it) pinned to it: the writes a split into `target` had done when it was killed."""
    store = registry.store
    faces = store.faces_of(influencer_id)
    store.set_fields([f.point_id for f in faces if f.record.video_id in kept],
                     {"influencer_id": influencer_id, "pinned": influencer_id})
    store.set_fields([f.point_id for f in faces if f.record.video_id in video_ids],
                     {"influencer_id": target, "pinned": target})


def replayed(registry):
    """The journal replayed as at a start: the influencers each record named."""
    return [named for _, named, _ in journal.replay_pending(registry.store, registry)]


def test_an_old_split_record_killed_part_way_is_finished_into_the_one_influencer_it_had_begun(registry):
    # Before: the replay derived the new id from the faces left to move, which founded a second influencer
    # beside the one the kill had left faces in: one person split in two, kept apart by their pins for good,
    # and the first never kept apart from the person split from.
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(near(0, CLOSE, faces=PIN_CHUNK)))  # the move's first write: 1,024 faces
    registry.assign("v3", video(near(0, CLOSE)))
    assert who(registry, "v2") == who(registry, "v3") == [a]
    target = registry.split_target(a, ["v2", "v3"])
    journal.record(registry.store, "split", {"id": a, "videos": ["v2", "v3"]})  # no target: an older release's
    moved_as_a_kill_left_them(registry, a, ["v2"], ["v1"], target)  # then killed before the second write
    assert replayed(registry) == [sorted([a, target])]
    assert who(registry, "v1") == [a] and who(registry, "v2") == who(registry, "v3") == [target]
    assert pair_key(a, target) in answered_pairs(registry.store)


def test_an_old_move_record_killed_once_its_faces_moved_keeps_its_answer_and_its_name_follows(registry):
    # Before: the replay found no appearance left to move (KeyError): no "different" answer (the review queue
    # asked again), and the name stayed on the emptied id, shown nowhere.
    registry.assign("v1", video(person(0, "a")))
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    registry.rename(b, "Bo")
    target = registry.split_target(b, ["v2"])
    journal.record(registry.store, "move", {"video": "v2", "id": b, "target": ""})  # no "chosen"
    moved_as_a_kill_left_them(registry, b, ["v2"], [], target)
    assert replayed(registry) == [sorted([b, target])]
    assert who(registry, "v2") == [target] and registry.names() == {target: "Bo"}
    assert pair_key(b, target) in answered_pairs(registry.store)


def test_an_old_move_record_to_an_existing_influencer_killed_once_its_faces_moved_keeps_its_answer(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(near(0, CLOSE)))
    (b,) = [x.influencer_id for x in registry.assign("v3", video(person(0, "b")))]
    journal.record(registry.store, "move", {"video": "v2", "id": a, "target": b})
    moved_as_a_kill_left_them(registry, a, ["v2"], ["v1"], b)
    replayed(registry)
    assert who(registry, "v1") == [a] and who(registry, "v2") == who(registry, "v3") == [b]
    assert pair_key(a, b) in answered_pairs(registry.store)


def test_an_old_split_record_never_takes_an_earlier_finished_split_in_the_same_video_for_its_own(registry):
    # c's appearance in v2 was split off (finished: answered) before; a's split of v2 was then killed before any
    # face moved. c's split-off sorts first in v2, so the id derived from v2's faces would be its own.
    (c,) = [x.influencer_id for x in registry.assign("v4", video(person(0, "c")))]
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(person(0, "c", cooccurs={1}), near(1, CLOSE, cooccurs={0})))
    assert sorted(who(registry, "v2")) == sorted([a, c])
    registry.split(c, ["v2"])
    (earlier,) = set(who(registry, "v2")) - {a}
    target = registry.split_target(a, ["v2"])
    journal.record(registry.store, "split", {"id": a, "videos": ["v2"]})
    assert replayed(registry) == [sorted([a, target])]
    assert sorted(who(registry, "v2")) == sorted([earlier, target]) and target not in (a, earlier)
    assert pair_key(a, target) in answered_pairs(registry.store)


def recorded_by_the_first_release(registry, op, args):
    """A journal record as the release that introduced the journal wrote it: its op and arguments, no audit entry
    (a merge's without what its ids stood for, "live")."""
    key = f"old-{op}"
    registry.store.set_side(journal.KIND, key, {"key": key, "op": op, "args": args})


def faces_moved_as_a_kill_left_them(registry, source, target):
    """`source`'s faces given to `target` and pinned there: a merge's (or a "same" answer's) writes before its names
    and merge record."""
    registry.store.set_fields([f.point_id for f in registry.store.faces_of(source)],
                              {"influencer_id": target, "pinned": target})


def test_an_old_merge_record_killed_once_its_faces_moved_is_finished_and_the_name_follows(registry):
    # Before: the replay merged the ids again, which refused the emptied one as unknown (KeyError): the survivor
    # stayed unnamed, the merged-away id kept the name (shown nowhere) and had no merge record.
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    registry.rename(b, "Bo")
    recorded_by_the_first_release(registry, "merge", {"ids": [a, b]})
    faces_moved_as_a_kill_left_them(registry, b, a)
    finished = journal.replay_pending(registry.store, registry)
    assert [(named, audit) for _, named, audit in finished] == [(sorted([a, b]), {})]
    assert who(registry, "v1") == who(registry, "v2") == [a] and registry.names() == {a: "Bo"}
    assert merged_into(registry.store, b) == a and registry.live_ids([b]) == [a]


def test_an_old_merge_record_killed_before_its_faces_moved_merges_what_its_ids_stand_for(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    (c,) = [x.influencer_id for x in registry.assign("v3", video(person(0, "c")))]
    registry.merge([c, b])  # b stands for c now
    recorded_by_the_first_release(registry, "merge", {"ids": [a, b]})
    assert replayed(registry) == [sorted([a, b, c])]
    assert who(registry, "v1") == who(registry, "v2") == who(registry, "v3") == [a]


def test_an_old_same_answer_record_killed_once_its_faces_moved_is_finished_as_its_merge_and_answered(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v4", video(near(0, CLOSE)))  # a has more faces: the survivor
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    registry.rename(b, "Bo")
    recorded_by_the_first_release(registry, "answer", {"a": b, "b": a, "reply": "same"})
    faces_moved_as_a_kill_left_them(registry, b, a)
    assert replayed(registry) == [sorted([a, b])]
    assert who(registry, "v2") == [a] and registry.names() == {a: "Bo"} and merged_into(registry.store, b) == a
    assert pair_key(b, a) in answered_pairs(registry.store)


def test_an_old_different_answer_record_is_answered_and_the_two_stay_apart(registry):
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    (b,) = [x.influencer_id for x in registry.assign("v2", video(person(0, "b")))]
    recorded_by_the_first_release(registry, "answer", {"a": a, "b": b, "reply": "different"})
    assert replayed(registry) == [sorted([a, b])]
    assert who(registry, "v1") == [a] and who(registry, "v2") == [b]
    assert pair_key(a, b) in answered_pairs(registry.store)


def test_an_old_split_record_never_takes_a_split_off_an_erasure_left_unanswered_in_the_same_video(registry):
    # c's appearance in v2 was split off; c was then erased, and its answers with it: the split-off is pinned, of
    # v2 alone, named by no answer, and sorts first in v2. a's split of v2 was killed before any face moved.
    # Before: the replay took the split-off for a's own and put a's faces in it (two people in one).
    (c,) = [x.influencer_id for x in registry.assign("v4", video(person(0, "c")))]
    (a,) = [x.influencer_id for x in registry.assign("v1", video(person(0, "a")))]
    registry.assign("v2", video(person(0, "c"), near(1, CLOSE)))
    registry.split(c, ["v2"])
    (earlier,) = set(who(registry, "v2")) - {a}
    registry.delete(c)
    assert not {i for pair in answered_pairs(registry.store) for i in pair} & {earlier}
    target = registry.split_target(a, ["v2"])
    journal.record(registry.store, "split", {"id": a, "videos": ["v2"]})
    assert replayed(registry) == [sorted([a, target])]
    assert sorted(who(registry, "v2")) == sorted([earlier, target]) and target not in (a, earlier)


def test_an_old_split_record_killed_once_every_face_moved_gives_nothing_to_an_erasures_split_off_beside_it(registry):
    # As above, but a's split of v2 (all a has) was killed once every face moved: its new influencer and c's
    # split-off both look begun. Before: the one sorting first, c's split-off, was taken: a's name went to it.
    (c,) = [x.influencer_id for x in registry.assign("v4", video(person(0, "c")))]
    registry.assign("v2", video(person(0, "c"), person(1, "a")))
    (a,) = set(who(registry, "v2")) - {c}
    registry.split(c, ["v2"])
    (earlier,) = set(who(registry, "v2")) - {a}
    registry.delete(c)
    registry.rename(a, "Al")
    target = registry.split_target(a, ["v2"])
    journal.record(registry.store, "split", {"id": a, "videos": ["v2"]})
    moved_as_a_kill_left_them(registry, a, ["v2"], [], target)
    assert sorted([earlier, target]) == [earlier, target], "the split-off sorts first"
    replayed(registry)
    assert earlier not in registry.names() and pair_key(a, earlier) not in answered_pairs(registry.store)
    assert sorted(who(registry, "v2")) == sorted([earlier, target])
