"""Undo of a correction by hand: identity keeps, per undoable correction, what it changed (a side record "undo"
under the correction's audit id), and puts it back on request.

What is kept is the difference between the state before and after the correction, over what a correction can
touch: the `influencer_id` and `pinned` fields of the faces of the influencers involved (and of the faces
pinned to them), the names and hidden flags, and the review answers. Reverting checks first that each of those
is still as the correction left it: a later correction, batch or re-derivation that moved the same faces or
renamed the same people makes the undo refuse (Conflict), rather than silently revert the later work too. A
face removed since (its video forgotten) is skipped.

Only the newest KEEP records are kept; an erasure removes every record naming the erased id (and the ids and
names they hold). Enrolment (which adds reference faces and re-derives their neighbourhood) and erasure are not
undoable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.common.crash import crash_point
from services.identity.facestore import FaceStore

KIND = "undo"  # side records: one per undoable correction, keyed by its audit id
KEEP = 500  # undo records kept (the newest)
INDEX = "undo_index"  # one side record (kind and key): the audit ids of the undo records, oldest first
ERASED = "undo_erased"  # one side record (kind and key): the audit ids whose undo records an erasure removed
MERGED = "merged"  # side records (corrections.py): an influencer id merged away -> the influencer it joined
ENROLLED = "enrolled_since"  # in an undo record: the influencer photos were enrolled for since (see enrolled)


class Conflict(Exception):
    """What the correction touched changed since: the undo would revert later work too."""


@dataclass
class State:
    """What a correction can change, around some influencers."""

    faces: dict[str, tuple[str, str]] = field(default_factory=dict)  # point id -> (influencer_id, pinned)
    videos: dict[str, tuple[str, bool]] = field(default_factory=dict)  # point id -> (video id, a reference photo)
    names: dict[str, str] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    review: dict[str, dict[str, Any]] = field(default_factory=dict)  # "a|b" -> the answer's record


def capture(store: FaceStore, influencer_ids: Iterable[str]) -> State:
    """The state around `influencer_ids`: their faces and the faces pinned to them (a face a correction moves
    away stays in view: it was one of theirs before)."""
    ids = [i for i in dict.fromkeys(influencer_ids) if i]
    state = State(names=store.names(), hidden=store.hidden(),
                  review={f"{r['a']}|{r['b']}": dict(r) for r in store.side_records("review")})
    if not ids:
        return state
    for f in [*store.faces_of(ids), *store.faces_where("pinned", ids)]:
        state.faces[f.point_id] = (f.record.influencer_id, f.record.pinned)
        state.videos[f.point_id] = (f.record.video_id, bool(f.record.reference))
    return state


def again(store: FaceStore, before: State) -> State:
    """The same faces as `before` (wherever they are now: a correction moves some to a new influencer),
    names, hidden flags and review answers, read again."""
    state = capture(store, [])
    videos = sorted({v for v, _ in before.videos.values()})
    for f in store.faces_in(videos) if videos else []:
        if f.point_id in before.faces:
            state.faces[f.point_id] = (f.record.influencer_id, f.record.pinned)
            state.videos[f.point_id] = (f.record.video_id, bool(f.record.reference))
    return state


def targets(record: dict[str, Any] | None) -> list[str]:
    """The influencers the faces of an undo record went to."""
    return sorted({f[1][0] for f in record["faces"].values()}) if record else []


def moved(record: dict[str, Any] | None) -> int:
    """Faces an undo record's correction gave to another influencer (a pin set in place is no move)."""
    return sum(f[0][0] != f[1][0] for f in record["faces"].values()) if record else 0


def difference(before: State, after: State) -> dict[str, Any]:
    """The undo record of a correction: each face, name, hidden flag and review answer it changed, as
    [before, after] (a face: [[influencer, pin] before, after, its video id, a reference photo])."""
    faces = {p: [list(before.faces[p]), list(after.faces.get(p, before.faces[p])), *before.videos[p]]
             for p in before.faces if after.faces.get(p, before.faces[p]) != before.faces[p]}
    names = {i: [before.names.get(i, ""), after.names.get(i, "")]
             for i in {*before.names, *after.names} if before.names.get(i, "") != after.names.get(i, "")}
    hidden = {i: [i in before.hidden, i in after.hidden] for i in before.hidden ^ after.hidden}
    review = {k: [before.review.get(k), after.review.get(k)] for k in {*before.review, *after.review}
              if _answer(before.review.get(k)) != _answer(after.review.get(k))}
    ids = sorted({x for f in faces.values() for pair in f[:2] for x in pair if x} | set(names) | set(hidden)
                 | {x for k in review for x in k.split("|")})
    return {"faces": faces, "names": names, "hidden": hidden, "review": review, "ids": ids}


def _answer(record: dict[str, Any] | None) -> Any:
    return None if record is None else record.get("answer")


def is_empty(record: dict[str, Any]) -> bool:
    return not (record["faces"] or record["names"] or record["hidden"] or record["review"])


def keep(store: FaceStore, audit_id: str, record: dict[str, Any], time_utc: str) -> None:
    """Stores the undo record of correction `audit_id`, and drops the oldest beyond KEEP (an index record
    lists them in order, so that a write never reads the records themselves, which may be large)."""
    store.set_side(KIND, audit_id, {**record, "audit_id": audit_id, "time_utc": time_utc, "undone": False})
    order = [str(i) for i in (store.get_side(INDEX, INDEX) or {}).get("ids", [])] + [audit_id]
    for old in order[:-KEEP]:
        store.set_side(KIND, old, None)
    store.set_side(INDEX, INDEX, {"ids": order[-KEEP:]})


def forget_influencer(store: FaceStore, influencer_ids: Iterable[str]) -> int:
    """Removes every undo record naming one of `influencer_ids` (an erasure: the person and the ids merged into
    them); returns how many. Their audit ids (random, naming nobody) are remembered, the newest KEEP, so that an
    undo of one is refused saying why."""
    erased = set(influencer_ids)
    gone = [str(r["audit_id"]) for r in store.side_records(KIND) if erased & set(r.get("ids", ()))]
    for audit_id in gone:
        store.set_side(KIND, audit_id, None)
    if gone:
        dropped = [str(i) for i in (store.get_side(ERASED, ERASED) or {}).get("ids", [])] + gone
        store.set_side(ERASED, ERASED, {"ids": dropped[-KEEP:]})
    return len(gone)


def enrolled(store: FaceStore, influencer_id: str) -> None:
    """Photos were enrolled for `influencer_id` (its name kept or given, its faces pinned): the corrections still
    standing that named it or pinned faces to it are marked, and their undo is refused (check). An enrolment cannot
    be undone, and relies on that name and those pins: the undo of a rename made before an enrolment under the same
    name left the enrolled person unnamed, and their faces free to drift from their photos. Idempotent (a replay)."""
    for record in list(store.side_records(KIND)):
        if record.get("undone") or record.get(ENROLLED):
            continue
        named = record.get("names", {}).get(influencer_id, ["", ""])[1]
        if named or any(f[1][1] == influencer_id for f in record.get("faces", {}).values()):
            store.set_side(KIND, str(record["audit_id"]), {**record, ENROLLED: influencer_id})


def revert(store: FaceStore, audit_id: str) -> tuple[list[str], list[str], int] | None:
    """Puts back what correction `audit_id` changed. Returns (changed videos, influencer ids touched, faces
    moved back), or None when it was undone already. KeyError: no undo record for it; Conflict: something it
    touched changed since."""
    record = check(store, audit_id)
    return None if record is None else apply(store, audit_id, record)


def check(store: FaceStore, audit_id: str) -> dict[str, Any] | None:
    """The undo record of correction `audit_id` when it can be reverted now, None when it was undone already.
    KeyError: no undo record for it; Conflict: something it touched changed since."""
    record = store.get_side(KIND, audit_id)
    if record is None:
        if any(r.get("undone_by") == audit_id for r in store.side_records(KIND)):
            raise KeyError(f"correction {audit_id[:40]!r} is an undo, which is not undone itself: make the "
                           "correction again")
        if audit_id in (store.get_side(ERASED, ERASED) or {}).get("ids", []):
            raise KeyError(f"correction {audit_id[:40]!r} cannot be undone any more: a person it touched was "
                           "erased since (an erasure is final)")
        # Identity keeps no audit trail (analytics does): a mistyped id looks the same as an old one from here.
        raise KeyError(f"no undo is kept for correction {audit_id[:40]!r} (an erasure or an enrolment cannot "
                       f"be undone, and only the newest {KEEP} corrections can; check the id on /audit or in "
                       "audit.csv)")
    if record.get("undone"):
        return None
    if record.get(ENROLLED):
        raise Conflict(f"photos were enrolled for {record[ENROLLED]} since correction {audit_id[:40]}, under the name "
                       "or with the faces it gave them, and an enrolment cannot be undone: it cannot be undone now; "
                       "correct it again instead (rename, hide, move, split or merge)")
    now = capture(store, list(record.get("ids", [])))
    where = _where(store, record["faces"])
    stale = [p for p, f in record["faces"].items() if p in where and list(where[p]) != list(f[1])]
    stale += [i for i, (_, after) in record["names"].items() if now.names.get(i, "") != after]
    stale += [i for i, (_, after) in record["hidden"].items() if (i in now.hidden) != after]
    stale += _labelled_since(store, record, now)
    emptied = _emptied_since(store, record, where)
    if stale or emptied:
        raise Conflict(_changed_since(store, audit_id, set(stale) | emptied, emptied))
    relied = _names_relied_on(store, audit_id, record)
    if relied:
        shown = ", ".join(relied[:3]) + (f" and {len(relied) - 3} more" if len(relied) > 3 else "")
        raise Conflict(f"a later correction kept the name correction {audit_id[:40]} gave, and dropped another's "
                       f"for it (a merge, or a move of someone's last appearance): undo the later "
                       f"correction{'s' if len(relied) > 1 else ''} {shown} first")
    return record


def _standing_later(store: FaceStore, audit_id: str) -> list[dict[str, Any]]:
    """The undo records of the corrections made after `audit_id` that still stand (not undone), newest first."""
    order = [str(i) for i in (store.get_side(INDEX, INDEX) or {}).get("ids", [])]
    if audit_id not in order:
        return []
    later = {a: k for k, a in enumerate(order) if k > order.index(audit_id)}
    found = [r for r in store.side_records(KIND) if str(r.get("audit_id")) in later and not r.get("undone")]
    return sorted(found, key=lambda r: later[str(r["audit_id"])], reverse=True)


def _names_relied_on(store: FaceStore, audit_id: str, record: dict[str, Any]) -> list[str]:
    """The later corrections still standing that joined someone into an influencer whose name `record` set, and
    dropped the joined one's name for it (a merge keeps the name of the one kept): undoing the rename would
    leave the person with neither name (was: 'Bo' merged into 'Ana' from a second page, then the rename to
    'Ana' undone from the first: unnamed, 'Bo' gone)."""
    named = {i for i, (_, after) in record["names"].items() if after}
    return [str(r["audit_id"]) for r in _standing_later(store, audit_id)
            if named & set(r.get("ids", ())) and any(old and not new for old, new in r.get("names", {}).values())]


def _labelled_since(store: FaceStore, record: dict[str, Any], now: State) -> list[str]:
    """The influencers the correction founded or filled (a split's new one) that the undo would leave with no
    face, named or hidden since: the undo would leave that name or flag on an influencer shown nowhere, and the
    person back under the old id without it (a split undone after its new influencer was named)."""
    mine = set(record["faces"])
    labelled = []
    for target in targets(record):
        if target in record.get("ids", []) and any(f[0][0] == target for f in record["faces"].values()):
            continue  # it had faces before the correction: the undo gives them back
        if {f.point_id for f in store.faces_of(target)} - mine:
            continue  # it keeps faces of its own
        name = record["names"].get(target, ["", ""])[1]
        hidden = record["hidden"].get(target, [False, False])[1]
        if now.names.get(target, "") != name or (target in now.hidden) != hidden:
            labelled.append(target)
    return labelled


def _emptied_since(store: FaceStore, record: dict[str, Any], where: dict[str, tuple[str, str]]) -> set[str]:
    """The influencers the undo would give a name or the hidden flag back to that have no face now and get none
    back from it (merged away, or their last appearance moved, since): the name or flag would stand on an
    influencer shown nowhere (was: rename to 'Ana', clear the name, merge the person away, undo the clear: 'Ana'
    on the emptied id; an unhide undone so hid it)."""
    back = {f[0][0] for p, f in record["faces"].items() if p in where}
    labelled = {i for i, (old, _) in record["names"].items() if old} | {
        i for i, (old, _) in record["hidden"].items() if old}
    return {i for i in labelled - back if not store.faces_of(i)}


def _changed_since(store: FaceStore, audit_id: str, stale: set[str], emptied: set[str] = frozenset()) -> str:
    """Why correction `audit_id` cannot be undone now that `stale` (its faces' point ids, its influencers' ids)
    changed again (`emptied`: the influencers whose faces went elsewhere): the later corrections still undoable that
    changed them or took those faces, newest first (undo those first), or,
    when none is (an erasure or a re-derivation changed them, or the later correction's undo was undone, or is
    no longer kept), that it cannot be undone and what to do instead. Was always "undo the later correction
    first", naming none, also when no later correction could be undone."""
    order = [str(i) for i in (store.get_side(INDEX, INDEX) or {}).get("ids", [])]
    later = set(order[order.index(audit_id) + 1:]) if audit_id in order else set()
    touched = [str(r["audit_id"]) for r in store.side_records(KIND)
               if str(r.get("audit_id")) in later and not r.get("undone")
               and (stale & {*r.get("faces", {}), *r.get("names", {}), *r.get("hidden", {})}
                    or any(f[0][0] in emptied and f[1][0] != f[0][0] for f in r.get("faces", {}).values()))]
    count = "1 face or label" if len(stale) == 1 else f"{len(stale)} faces or labels"
    head = f"what correction {audit_id[:40]} changed was changed again since ({count})"
    if touched:
        touched.sort(key=order.index, reverse=True)
        shown = ", ".join(touched[:3]) + (f" and {len(touched) - 3} more" if len(touched) > 3 else "")
        return f"{head}: undo the later correction{'s' if len(touched) > 1 else ''} {shown} first"
    return (f"{head}, by something that cannot be undone (an erasure, a re-derivation after new videos, or a "
            "correction whose undo is no longer kept): it cannot be undone now; correct it again instead "
            "(rename, hide, move, split or merge)")


def _where(store: FaceStore, faces: dict[str, list[Any]]) -> dict[str, tuple[str, str]]:
    """Each face of an undo record where it is now (influencer, pin), wherever that is (a later correction
    may have moved it to a third person); a face no longer stored (its video forgotten since) is left out."""
    return {f.point_id: (f.record.influencer_id, f.record.pinned)
            for f in store.faces_in(sorted({str(v[2]) for v in faces.values()})) if f.point_id in faces}


def apply(store: FaceStore, audit_id: str, record: dict[str, Any], undone_by: str = ""
          ) -> tuple[list[str], list[str], int]:
    """Puts back what `record` (check's answer for `audit_id`) says the correction changed, whatever is there
    now, and marks it undone (by the undo audited as `undone_by`, when given); returns (changed videos, influencer
    ids touched, faces moved back). Applying it again changes nothing more: an undo a kill interrupted is finished
    this way (finish)."""
    faces: dict[str, list[Any]] = record["faces"]
    where = _where(store, faces)
    back: dict[str, list[str]] = {}
    pins: dict[str, list[str]] = {}
    # A face the undo leaves where it is, only unpinned, keeps its pin when a later correction still standing
    # names its influencer: that one's pin is the same (a merge into it, a hide, a move of another appearance
    # pins it again, recording no change), and lifting it would undo that constraint too. Those corrections'
    # undo records take the pin over, so that undoing them lifts it: it was left behind for good,
    # explained by no correction, once they were undone too. One kept for another correction that took it over
    # stays while that one stands.
    later = _standing_later(store, audit_id)
    holders = [r for r in store.side_records(KIND) if str(r.get("audit_id")) != audit_id and not r.get("undone")]
    taken: dict[str, dict[str, Any]] = {}  # audit id -> its record, the pins it takes over added
    for p, (old, new, *rest) in faces.items():
        if p in where:
            back.setdefault(old[0], []).append(p)
            if old[0] == new[0] == where[p][0] and where[p][1] == new[1]:
                relying = [r for r in later if new[1] in r.get("ids", ())]
                for r in relying:
                    taken.setdefault(str(r["audit_id"]), r)["faces"].setdefault(p, [list(old), list(where[p]), *rest])
                if relying or any(r["faces"].get(p, [None, None])[1] == list(where[p]) for r in holders):
                    continue
            pins.setdefault(old[1], []).append(p)
    for later_id, r in taken.items():
        store.set_side(KIND, later_id, r)
    store.set_influencer(back)
    crash_point("undo:faces")
    store.set_pins(pins)
    for i in sorted(back):  # an undone merge: the ids with faces again stand for themselves, not the one they
        if store.get_side(MERGED, i) is not None:  # joined (emptied later, a merge naming one merged the other)
            store.set_side(MERGED, i, None)
    for i, (old, _) in record["names"].items():
        store.set_name(i, old)
    for i, (old, _) in record["hidden"].items():
        store.set_hidden(i, bool(old))
    for key, (old, _) in record["review"].items():
        store.set_side("review", key, old)
    store.set_side(KIND, audit_id, {**record, "undone": True, **({"undone_by": undone_by} if undone_by else {})})
    moved = [p for p in faces if p in where and where[p][0] != faces[p][0][0]]
    videos = sorted({faces[p][2] for p in moved if not faces[p][3]})
    return videos, list(record.get("ids", [])), len(moved)


def finish(store: FaceStore, audit_id: str, undone_by: str = "") -> None:
    """Finishes the undo (audited as `undone_by`) of correction `audit_id` that a kill interrupted (recorded in
    the journal once check had passed, so nothing since is overwritten: the writes under way were the undo's
    own)."""
    record = store.get_side(KIND, audit_id)
    if record is not None and not record.get("undone"):
        apply(store, audit_id, record, undone_by)
