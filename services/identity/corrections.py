"""Corrections by hand, each kept as a constraint on the faces it touches (their `pinned` field) so that every
later re-derivation respects it: a merge pins every face of the influencers to the first (must-link); a split
or a move pins the faces moved to their new influencer and the faces left behind to the old one
(cannot-link); a name, a hide or a "different" answer pins an influencer's faces to its own id. Names and
hidden flags live in the side collection; an erasure leaves only an audit record with a keyed hash of the id.

Each function returns the videos whose appearances changed (reference photos are no videos); the caller
serialises calls."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from services.common.crash import crash_point
from services.common.look_alikes import looks_like_an_id
from services.common.name_text import BadName, clean_name
from services.identity import undo
from services.identity.assignment import promote_copies
from services.identity.crops import CropStore
from services.identity.facestore import FacePoint, FaceStore, chunks
from services.identity.matching import new_influencer_id
from services.identity.review import SAME, pair_key

MAX_NAME = 200  # characters of a display name
MERGED = undo.MERGED  # side records: influencer id merged away -> the influencer it joined
PIN_CHUNK = 1024  # faces a write of _pin, as the engines' adapters write them


def _faces_of(store: FaceStore, influencer_id: str) -> list[FacePoint]:
    faces = store.faces_of(influencer_id) if influencer_id else []
    if not faces:
        # One merged away (by another analyst a moment before, on a page still showing it): say into whom.
        joined = merged_into(store, influencer_id) if influencer_id else ""
        where = f": it was merged into {joined}" if joined and store.faces_of(joined) else ""
        raise KeyError(f"no influencer {influencer_id[:80]!r}{where}")
    return faces


def _videos(faces: Sequence[FacePoint]) -> list[str]:
    return sorted({f.record.video_id for f in faces if not f.record.reference})


def _pin(store: FaceStore, faces: Sequence[FacePoint], target: str) -> list[str]:
    """Gives `faces` to `target` and pins them there; returns the videos whose people changed. Both fields in
    one write (PIN_CHUNK faces per engine operation): a kill never leaves a face moved under its old pin,
    which a re-derivation would take back (a split or move undone without a word). A kill between two writes
    leaves some moved: the journal's replay (journal.py) moves the rest to the same `target`."""
    moving = [f for f in faces if f.record.influencer_id != target]
    changing = [f.point_id for f in faces if (f.record.influencer_id, f.record.pinned) != (target, target)]
    for k, chunk in enumerate(chunks(changing, PIN_CHUNK)):
        if k:
            crash_point("pin:chunk")
        store.set_fields(chunk, {"influencer_id": target, "pinned": target})
    if changing:
        crash_point("pin:moved")
    return _videos(moving)


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def merge(store: FaceStore, influencer_ids: Sequence[str]) -> list[str]:
    """Every influencer listed joins the first, for good. The first keeps its name, or takes the first name
    among the others; it is hidden when any of them was (a hide is the analyst's word about the person, being
    shown is only the default); the others' names and hidden flags go (an undo puts them back). Idempotent: an
    id merged away before stands for the influencer it joined (a double-submitted form merges nothing more and
    answers with no change)."""
    ids = list(dict.fromkeys(influencer_ids))
    if len(ids) < 2:
        raise ValueError("merge needs at least two different influencer ids")
    live = live_ids(store, ids)
    if len(live) < 2:
        return []  # all of them are one influencer already: what the first submission did
    return join(store, live)


def join(store: FaceStore, live: Sequence[str]) -> list[str]:
    """The merge of influencers `live` (what the ids given stood for) into the first. Also finishes one that a
    kill interrupted (journal.py): the faces of an influencer that already moved are found under the first,
    and a name already given or cleared is left so."""
    target, others = live[0], list(live[1:])
    faces = {f.point_id: f for inf in live for f in store.faces_of(inf)}
    for f in store.faces_where("pinned", others):  # pinned to one of them while a re-derivation put it elsewhere
        faces.setdefault(f.point_id, f)
    changed = _pin(store, list(faces.values()), target)
    crash_point("merge:pinned")
    names = store.names()
    if not names.get(target):
        store.set_name(target, next((names[o] for o in others if names.get(o)), ""))
    if set(others) & store.hidden():  # "not an influencer" was said of this person: it holds for them all
        store.set_hidden(target, True)  # before the others' flags go: a replay after a kill finds it set
    for other in others:
        store.set_name(other, "")
        store.set_hidden(other, False)
        store.set_side(MERGED, other, {"id": other, "into": target, "time_utc": now_utc()})
    return changed


def merged_into(store: FaceStore, influencer_id: str) -> str:
    """The influencer that `influencer_id` was merged into, following later merges; "" when it was not
    merged away."""
    into = {str(r.get("id")): str(r.get("into")) for r in store.side_records(MERGED)}
    current, seen = influencer_id, {influencer_id}
    while current in into and into[current] not in seen:
        current = into[current]
        seen.add(current)
    return "" if current == influencer_id else current


def live_ids(store: FaceStore, influencer_ids: Sequence[str]) -> list[str]:
    """The influencers `influencer_ids` stand for now (an id merged away before: the one it joined), each once,
    in order; KeyError for an id that stands for none."""
    return list(dict.fromkeys(_current(store, i) for i in influencer_ids))


def _current(store: FaceStore, influencer_id: str) -> str:
    """`influencer_id` itself when it has faces, else the influencer it was merged into; KeyError else."""
    if influencer_id and store.faces_of(influencer_id):
        return influencer_id
    joined = merged_into(store, influencer_id)
    if joined and store.faces_of(joined):
        return joined
    raise KeyError(f"no influencer {influencer_id[:80]!r}")


def absorbed(store: FaceStore, influencer_id: str) -> list[str]:
    """The ids merged away into `influencer_id` (directly or through others), each holding no face now: the
    same person under an older id, whose records an erasure of `influencer_id` removes too (an undo record of a
    hide of one kept its id and faces after the person was erased, and its undo asked to undo a merge whose
    undo the erasure had removed)."""
    into = {str(r.get("id")): str(r.get("into")) for r in store.side_records(MERGED)}

    def joined(i: str) -> str:
        seen = {i}
        while i in into and into[i] not in seen:
            i = into[i]
            seen.add(i)
        return i
    return [i for i in into if i != influencer_id and joined(i) == influencer_id and not store.faces_of(i)]


def _forget_merges(store: FaceStore, influencer_id: str) -> None:
    """Drops the merge records that name `influencer_id` (erasure: no record keeps the id)."""
    for record in list(store.side_records(MERGED)):
        if influencer_id in (record.get("id"), record.get("into")):
            store.set_side(MERGED, str(record.get("id")), None)


def split_target(store: FaceStore, influencer_id: str, video_ids: Sequence[str]) -> str:
    """The id of the new influencer that a split of `influencer_id`'s faces in `video_ids` creates (derived from
    the faces it would move: chosen before the split begins, as the journal keeps it); KeyError when it has no
    face there."""
    wanted = set(video_ids)
    moved = [f for f in _faces_of(store, influencer_id) if f.record.video_id in wanted]
    if not moved:
        raise KeyError(f"{influencer_id} has no faces in the videos given")
    return new_influencer_id(*min(f.record.person_key for f in moved)) + "s"


def interrupted_target(store: FaceStore, influencer_id: str, video_ids: Sequence[str]) -> str:
    """The new influencer of a split (or a move to a new influencer) of `influencer_id`'s faces in `video_ids`
    whose journal record does not name it (a record of an older release): the one a kill left some or all of
    those faces in, else the one the faces still to move found (split_target); "" when neither has a face
    there. Split_target over the faces left alone would found a second influencer beside the first (the split
    one person in two, kept apart by their pins), or, every face moved, find nothing to finish (no "different"
    answer, the name left on an emptied id). The faces a kill left moved are told by what only an unfinished
    split leaves: an influencer of those videos alone, each face pinned to it, named by no review answer (the
    split's comes last), whose id split_target derives from them and the faces left to move. An earlier split-off
    of another person in those videos looks the same once nothing names it (its partner erased, and the answer
    with it); two tell it apart: with faces left to move, the kill stopped the move between two of the engine's
    writes (PIN_CHUNK faces each, in every release with a journal), so the one it began holds a whole number of
    them; and when more than one influencer qualifies, none is taken (every face moved: nothing is finished; else
    the faces left found the new influencer), rather than one person's faces or name given to another."""
    wanted = set(video_ids)
    left = [f for f in store.faces_of(influencer_id) if f.record.video_id in wanted] if influencer_id else []
    answered = {i for pair in answered_pairs(store) for i in pair}
    found: dict[str, list[FacePoint]] = {}
    for f in store.faces_in(sorted(wanted)) if wanted else []:
        if f.record.influencer_id not in ("", influencer_id):
            found.setdefault(f.record.influencer_id, []).append(f)
    begun = [candidate for candidate, faces in sorted(found.items())
             if candidate not in answered and all(f.record.pinned == candidate for f in faces)
             and len(store.faces_of(candidate)) == len(faces) and not (left and len(faces) % PIN_CHUNK)
             and new_influencer_id(*min(f.record.person_key for f in [*left, *faces])) + "s" == candidate]
    if len(begun) == 1:
        return begun[0]
    return split_target(store, influencer_id, video_ids) if left else ""


def split(store: FaceStore, influencer_id: str, video_ids: Sequence[str], target: str = "") -> list[str]:
    """The faces of `influencer_id` in `video_ids` become a new influencer, kept apart from it for good.
    `target`: the new influencer's id as split_target chose it before the split began: a split that a kill
    interrupted (some faces moved, or all) is finished into it, and the two are kept apart still."""
    if not target:
        target = split_target(store, influencer_id, video_ids)
    faces = store.faces_of(influencer_id)
    wanted = set(video_ids)
    moved = [f for f in faces if f.record.video_id in wanted]
    return _separate(store, faces, moved, influencer_id, target, store.faces_of(target))


def move(store: FaceStore, video_id: str, influencer_id: str, target: str = "", chosen: str = ""
         ) -> tuple[list[str], str]:
    """One video's appearance of `influencer_id` goes to `target` (an existing influencer, which it joins
    for good) or, with "", to a new influencer; either way it stays apart from `influencer_id`. Returns the
    changed videos and the target's id. `chosen`: the target's id as chosen when the move began (a new one's
    from split_target): a move that a kill interrupted (some faces moved, or all) is finished into it."""
    if chosen:
        faces = store.faces_of(influencer_id)
        moved = [f for f in faces if f.record.video_id == video_id]
        return _separate(store, faces, moved, influencer_id, chosen, store.faces_of(chosen)), chosen
    faces = _faces_of(store, influencer_id)
    moved = [f for f in faces if f.record.video_id == video_id]
    if not moved:
        raise KeyError(f"{influencer_id} has no appearance in video {video_id[:80]!r}")
    if target == influencer_id:
        raise ValueError(f"the appearance is already {influencer_id}'s")
    target_faces = _faces_of(store, target) if target else []
    target = target or new_influencer_id(*min(f.record.person_key for f in moved)) + "s"
    return _separate(store, faces, moved, influencer_id, target, target_faces), target


def _separate(store: FaceStore, faces: list[FacePoint], moved: list[FacePoint], source: str, target: str,
              target_faces: list[FacePoint]) -> list[str]:
    """`moved` (of `source`'s `faces`) go to `target` (founded by them, or not) with its `target_faces`, the two
    kept apart; when `source` keeps nothing, its name and hidden flag follow its faces (_labels_follow)."""
    gone = {f.point_id for f in moved}
    kept = [f for f in faces if f.point_id not in gone]
    _pin(store, kept, source)
    changed = _pin(store, moved + target_faces, target)
    record_answer(store, source, target, "different")
    if not kept:
        _labels_follow(store, source, target)
    return changed


def _labels_follow(store: FaceStore, source: str, target: str) -> None:
    """`source` kept no face: its name goes with its faces to `target` (unless `target` has a name of its own, as
    in a merge) and its hidden flag too, as in a merge (join), so that neither stays on an influencer shown
    nowhere. Idempotent (a replay after a kill finds them moved)."""
    name = store.names().get(source, "")
    if name:
        if not store.names().get(target):
            store.set_name(target, name)
        store.set_name(source, "")
    if source in store.hidden():
        store.set_hidden(target, True)
        store.set_hidden(source, False)


class NameTaken(ValueError):
    """Enrolling would rename an influencer that already has another name (refused: a name is never
    overwritten without the analyst saying so, by a rename)."""


def checked_name(name: str) -> str:
    """The display name as stored (services.common.name_text.clean_name: no control or bidi-override characters,
    blanks collapsed); ValueError when nothing visible is left, it is longer than MAX_NAME characters, or it
    has the form of an influencer id to a reader (look_alikes.looks_like_an_id: in any case, or written in look-alike
    Cyrillic or Greek letters, full-width or accented characters): the CLI and the page take such a word as the
    id it spells, 'inf_0123456789' typed for the name 'INF_0123456789' would be that id, and a name 'іnf_0123456789'
    (Cyrillic і) would stand in lists and messages where an id is read, for another person's."""
    cleaned = clean_name(name, MAX_NAME)
    if looks_like_an_id(cleaned):
        raise BadName(f"name {cleaned!r} has the form of an influencer id, and would be read as one: choose "
                      "another")
    return cleaned


def rename(store: FaceStore, influencer_id: str, name: str) -> None:
    """Gives an influencer a display name ("" removes it); a name pins its cluster."""
    name = checked_name(name)
    _pin(store, _faces_of(store, influencer_id), influencer_id)
    store.set_name(influencer_id, name)


def hide(store: FaceStore, influencer_id: str, hidden: bool) -> None:
    """"Not an influencer" (or back): kept, pinned, and left out of the statistics by analytics. Someone hidden
    already (or shown, for `hidden` False) is left as they are: the faces they gained since are not pinned
    either, so that a hide sent again changes nothing and is not audited."""
    faces = _faces_of(store, influencer_id)
    if hidden == (influencer_id in store.hidden()):
        return
    if hidden:
        _pin(store, faces, influencer_id)
    store.set_hidden(influencer_id, hidden)


def keep_apart(store: FaceStore, a: str, b: str) -> None:
    """The analyst says `a` and `b` are two people: each is pinned to its own id."""
    _pin(store, _faces_of(store, a), a)
    _pin(store, _faces_of(store, b), b)


def record_answer(store: FaceStore, a: str, b: str, answer: str) -> None:
    """Remembers the analyst's answer for the pair (same / different / skip): it is never asked again."""
    key = pair_key(a, b)
    store.set_side("review", "|".join(key), {"a": key[0], "b": key[1], "answer": answer, "time_utc": now_utc()})


def answered_pairs(store: FaceStore) -> set[tuple[str, str]]:
    return {(str(r["a"]), str(r["b"])) for r in store.side_records("review")}


def answer(store: FaceStore, a: str, b: str, reply: str) -> list[str]:
    """Applies a review answer: `same` merges the pair into the one with more faces (a on a tie), whose id
    stays; `different` keeps them apart; `skip` only records the answer."""
    if a == b:
        raise ValueError(f"a review pair needs two influencers, got {a[:80]!r} twice")
    if reply == SAME and _current(store, a) == _current(store, b):
        record_answer(store, a, b, reply)
        return []  # merged already (a double-submitted answer): nothing more to do
    size_a, size_b = len(_faces_of(store, a)), len(_faces_of(store, b))
    changed: list[str] = []
    if reply == SAME:
        changed = merge(store, [a, b] if size_a >= size_b else [b, a])
    elif reply == "different":
        keep_apart(store, a, b)
    record_answer(store, a, b, reply)
    return changed


def delete(store: FaceStore, crops: CropStore, influencer_id: str, subject_hmac: str = "",
           missing_ok: bool = False) -> list[str]:
    """Erases a person: every face (references included), their crops, name, hidden flag, review answers, the
    pins naming them and the undo records naming them, or an id merged into them (absorbed). An audit record
    keeps the UTC time and `subject_hmac` (the keyed hash of the id, services/identity/audit.py), never the id.
    Idempotent with `missing_ok`: an
    erasure interrupted half way (its faces gone, its name not) is finished instead of refused. Crops go
    before the faces that name them, so that a repeat still finds them."""
    faces = store.faces_of(influencer_id) if missing_ok and influencer_id else _faces_of(store, influencer_id)
    merged_in = absorbed(store, influencer_id)  # before the merge records go: a replay finds them still
    crops.delete(f.record.crop for f in faces)
    if faces:
        store.delete_points([f.point_id for f in faces])
        promote_copies(store, faces)
    pinned = [f.point_id for f in store.faces_where("pinned", [influencer_id])]
    if pinned:
        store.set_pins({"": pinned})
    erased = {influencer_id, *merged_in}
    for gone in sorted(erased):
        store.set_name(gone, "")
        store.set_hidden(gone, False)
    for record in list(store.side_records("review")):
        if erased & {record.get("a"), record.get("b")}:
            store.set_side("review", f"{record['a']}|{record['b']}", None)
    # A video left with no face stays in the video list: a resync then sends it with no appearance, which
    # clears the person from analytics even if this answer never reached it.
    undo.forget_influencer(store, erased)
    for gone in sorted(erased):
        _forget_merges(store, gone)
    if faces:
        audit(store, "delete", subject_hmac)
    return _videos(faces)


def audit(store: FaceStore, action: str, subject_hmac: str) -> None:
    key = uuid.uuid4().hex
    store.set_side("audit", key, {"key": key, "time_utc": now_utc(), "action": action, "subject_hmac": subject_hmac})


SCRUBBED = "audit-scrubbed"  # side records: the cleaned copies of the audit records while they are rewritten
_SCRUB_DONE = "audit-scrub-done"  # its one record: every cleaned copy is written


def scrub_plain_hashes(store: FaceStore) -> int:
    """Audit records of an older release kept a plain SHA-256 of an erased id, which can be reversed by
    hashing every candidate id: they are removed (their time and action stay, without the hash); returns how
    many held one. Safe to stop at any point: the cleaned copies are written apart (SCRUBBED) and marked whole
    before the records are cleared, and the next start finishes from whichever step was reached."""
    if store.get_side(_SCRUB_DONE, "done") is None:
        records = list(store.side_records("audit"))
        plain = sum(1 for r in records if "subject_sha256" in r)
        if next(store.side_records(SCRUBBED), None) is not None:  # a write at every start only when there are
            store.clear_side(SCRUBBED)  # copies of a start stopped before they were whole, or after they were copied
        if not plain:
            return 0
        for r in records:
            kept = {k: v for k, v in r.items() if k not in ("subject_sha256", "kind")}
            kept.setdefault("key", uuid.uuid4().hex)
            store.set_side(SCRUBBED, str(kept["key"]), kept)
        store.set_side(_SCRUB_DONE, "done", {"plain": plain})
    done = store.get_side(_SCRUB_DONE, "done") or {}
    store.clear_side("audit")
    for kept in store.side_records(SCRUBBED):
        store.set_side("audit", str(kept["key"]), {k: v for k, v in kept.items() if k != "kind"})
    store.set_side(_SCRUB_DONE, "done", None)
    store.clear_side(SCRUBBED)
    return int(done.get("plain", 0))
