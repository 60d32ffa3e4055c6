"""Records an older release left in identity's store that today's corrections never leave, cleaned at identity's
start (as corrections.scrub_plain_hashes cleans old audit records). Each step is idempotent and safe to kill at
any point: what a kill left undone is found again and finished at the next start.

- A merge record (corrections.MERGED: an id merged away -> the influencer it joined) that outlived an undo of
  its merge (undo.apply drops it since): the id still stood for the other person, so that once its faces moved
  on, a correction naming it (from a page still showing it) merged that other person. Dropped when the newest
  kept merge of the id was undone; kept when the id was merged again since (then it is that merge's record).
- A display name of the form of an influencer id (refused when typed since: corrections.checked_name): kept,
  with ID_MARK after it, so that no list, message or export shows it where an id is read. The rename goes
  through the journal (journal.py), so that the next start finishes it, publishes it to analytics and audits it
  when a kill comes in between.
"""

from __future__ import annotations

import uuid

from influencers.v1 import identity_pb2
from services.common.look_alikes import looks_like_an_id
from services.identity import journal, undo
from services.identity.corrections import MAX_NAME, MERGED
from services.identity.facestore import FaceStore

MERGES = (identity_pb2.AUDIT_ACTION_MERGE, identity_pb2.AUDIT_ACTION_REVIEW_SAME)  # corrections that merge
ID_MARK = " (looks like an id)"  # after an old name that has the form of an influencer id
ACTOR = "identity:start"  # the audit trail's actor of the renames made here


def drop_undone_merges(store: FaceStore) -> list[str]:
    """Drops the merge records whose merge was undone (the newest kept merge of the id, by the undo records'
    order); returns the ids whose record went. An id whose merges are no longer kept keeps its record."""
    merged = {str(r.get("id")) for r in store.side_records(MERGED)}
    if not merged:
        return []
    order = {str(a): k for k, a in enumerate((store.get_side(undo.INDEX, undo.INDEX) or {}).get("ids", []))}
    newest: dict[str, tuple[int, bool]] = {}  # merged id -> (its newest merge's place in the order, undone)
    for record in store.side_records(undo.KIND):
        if int(record.get("entry", {}).get("action", 0)) not in MERGES:
            continue
        place = order.get(str(record.get("audit_id")), -1)
        for before, after, *_ in record.get("faces", {}).values():
            away = str(before[0])
            if away in merged and after[0] != away and place >= newest.get(away, (-1, False))[0]:
                newest[away] = (place, bool(record.get("undone")))
    dropped = sorted(i for i, (_, undone) in newest.items() if undone)
    for influencer_id in dropped:
        store.set_side(MERGED, influencer_id, None)
    return dropped


def marked(name: str) -> str:
    """`name` with ID_MARK after it, cut to fit MAX_NAME characters (never of the form of an id then)."""
    return name[:MAX_NAME - len(ID_MARK)].rstrip() + ID_MARK


def mark_id_like_names(store: FaceStore) -> dict[str, str]:
    """Records in the journal, for each influencer shown (one with faces) whose name has the form of an id and
    is not being renamed already, a rename to the name marked (ID_MARK); returns {id: new name}. The caller
    then finishes the journal (ChangeWriter.resume_corrections), as after a kill."""
    pending = {str(r.get("args", {}).get("id")) for r in store.side_records(journal.KIND) if r.get("op") == "rename"}
    renames = {i: marked(name) for i, name in sorted(store.names().items())
               if name and looks_like_an_id(name) and i not in pending and store.faces_of(i)}
    for influencer_id, name in renames.items():
        journal.record(store, "rename", {"id": influencer_id, "name": name}, audit={
            "audit_id": uuid.uuid4().hex, "action": int(identity_pb2.AUDIT_ACTION_RENAME), "actor": ACTOR,
            "before": [influencer_id], "after": [influencer_id], "undoes": "",
            "before_name": store.names().get(influencer_id, "")})
    return renames
