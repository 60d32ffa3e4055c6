"""The audit trail as analytics keeps it: one row per correction by hand, written from identity's feed in the
same transaction as the feed position (store.apply_changes), so that each correction is recorded exactly once
and a replay records nothing. Rows are appended, never changed, except by an erasure: the erased person's id
and name are then taken out of every earlier row (docs/audit.md).

Pure: the row, its conversion from the feed's AuditEntry, and the sentence that tells what a correction did
("Merged Tony into Ana: 3 videos"), shown by the page's flash message and its /audit list.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd

from influencers.v1 import identity_pb2
from services.common.names import told_apart

ERASED = "(erased)"  # stands for an erased person's id in earlier rows
# The columns of audit.csv (the page's download and `influencers export`); docs/audit.md says what each means.
CSV_COLUMNS = ["time_utc", "actor", "action", "what", "before_ids", "after_ids", "videos", "faces", "subject_hmac",
               "undoes", "audit_id", "feed_position"]

ACTIONS = {
    identity_pb2.AUDIT_ACTION_RENAME: "rename", identity_pb2.AUDIT_ACTION_MERGE: "merge",
    identity_pb2.AUDIT_ACTION_SPLIT: "split", identity_pb2.AUDIT_ACTION_MOVE: "move",
    identity_pb2.AUDIT_ACTION_HIDE: "hide", identity_pb2.AUDIT_ACTION_UNHIDE: "unhide",
    identity_pb2.AUDIT_ACTION_DELETE: "delete", identity_pb2.AUDIT_ACTION_ENROL: "enrol",
    identity_pb2.AUDIT_ACTION_REVIEW_SAME: "review same",
    identity_pb2.AUDIT_ACTION_REVIEW_DIFFERENT: "review different",
    identity_pb2.AUDIT_ACTION_REVIEW_SKIP: "review skip", identity_pb2.AUDIT_ACTION_UNDO: "undo",
}


@dataclass(frozen=True)
class AuditRow:
    """One correction: `time_s` UTC seconds since the epoch; ids before and after; names of those ids at the
    time; videos whose appearances changed and faces moved; an erasure's keyed hash (never the id)."""

    audit_id: str
    action: str
    actor: str
    time_s: float
    before_ids: tuple[str, ...] = ()
    after_ids: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    before_name: str = ""
    after_name: str = ""
    videos: int = 0
    faces: int = 0
    subject_hmac: str = ""
    undoable: bool = False
    undoes: str = ""
    position: int = 0  # identity's feed position of the correction

    @property
    def time_utc(self) -> str:
        """ISO 8601, seconds, UTC."""
        return datetime.fromtimestamp(self.time_s, UTC).isoformat(timespec="seconds")

    def without(self, influencer_id: str) -> AuditRow:
        """This row with `influencer_id` replaced by ERASED and its name dropped (an erasure)."""
        def swap(ids: Sequence[str]) -> tuple[str, ...]:
            return tuple(ERASED if i == influencer_id else i for i in ids)

        named = influencer_id in self.names or influencer_id in (*self.before_ids, *self.after_ids)
        return replace(self, before_ids=swap(self.before_ids), after_ids=swap(self.after_ids),
                       names={k: v for k, v in self.names.items() if k != influencer_id},
                       before_name="" if named and self.action in ("rename", "enrol") else self.before_name,
                       after_name="" if named and self.action in ("rename", "enrol") else self.after_name)


def row_from_entry(entry: identity_pb2.AuditEntry, position: int = 0) -> AuditRow | None:
    """The row of a feed change's audit entry; None when the change carries none."""
    if not entry.audit_id:
        return None
    return AuditRow(
        audit_id=entry.audit_id, action=ACTIONS.get(entry.action, "unspecified"), actor=entry.actor,
        time_s=entry.time.seconds + entry.time.nanos / 1e9, before_ids=tuple(entry.before_ids),
        after_ids=tuple(entry.after_ids), names=dict(entry.names), before_name=entry.before_name,
        after_name=entry.after_name, videos=entry.videos, faces=entry.faces, subject_hmac=entry.subject_hmac,
        undoable=entry.undoable, undoes=entry.undoes, position=position)


def _who(influencer_id: str, names: Mapping[str, str]) -> str:
    return names.get(influencer_id) or influencer_id


def _many(ids: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [_who(i, names) for i in ids]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1] if shown else "nobody"


def _quoted(name: str) -> str:
    """A name in quotes as the analyst typed it: not repr(), which showed an emoji's joiners as `\\u200d` and
    O'Brien's quote with a backslash (names are stored clean, services/common/name_text.py: nothing to escape)."""
    return f"'{name}'"


def _videos(n: int) -> str:
    return f"{n} video" if n == 1 else f"{n} videos"


def gone_sentence(influencer_id: str, row: AuditRow) -> str:
    """Why an influencer's page is gone: the correction that took its id away, and when (an old link, a bookmark
    or an earlier export's id after a merge)."""
    return (f"{influencer_id} is not an influencer any more: {describe(row)} "
            f"({row.time_utc[:16].replace('T', ' ')} UTC, on the Audit page).")


def not_saved_sentence(answer: str, a: str, b: str, took_a: AuditRow | None, took_b: AuditRow | None) -> str:
    """Why an answer for the pair `a`, `b` was not saved, when a correction since the page was shown took one of
    them away (`took_a`, `took_b`: the correction that took each, None: none did): they are one person already, or
    one joined someone else. "" when neither was taken: nothing to explain."""
    for gone, other, row, other_row in ((a, b, took_a, took_b), (b, a, took_b, took_a)):
        if row is None:
            continue
        which = f"{describe(row)} ({row.time_utc[:16].replace('T', ' ')} UTC, on the Audit page)"
        one = other in row.after_ids or (other_row is not None and set(other_row.after_ids) & set(row.after_ids))
        if one:
            return f"Your answer “{answer}” for {a} and {b} was not saved: they are one person already. {which}."
        return (f"Your answer “{answer}” for {a} and {b} was not saved: {gone} is not an influencer any more. "
                f"{which}. The queue below is as it is now.")
    return ""


def _new(ids: Sequence[str], names: Mapping[str, str]) -> str:
    """The influencers a correction founded, said as new: an id alone (`to inf_1a3ddd6b90s`) read as a typo."""
    return f"a new influencer, {_many(ids, names)}" if len(ids) == 1 else f"new influencers {_many(ids, names)}"


def describe(row: AuditRow, undone: AuditRow | None = None, founded: Collection[str] = ()) -> str:
    """What a correction did, in one sentence for the analyst. `undone`: for an undo, the row it reverted
    (its sentence is quoted, so the undo says what it took back). `founded`: of a move's ids after, those the move
    founded (a move to "a new influencer": founded_by tells them); a split's are always new."""
    before, after = list(row.before_ids), list(row.after_ids)
    names = told_apart((*before, *after), row.names)  # two Tonys of one sentence: each with its id
    subject = _many(before[:1] or after[:1], names)
    match row.action:
        case "merge" | "review same":
            return f"Merged {_many(before, names)} into {_many(after, names)}: {_videos(row.videos)}"
        case "split":
            return f"Split {subject}: {_videos(row.videos)} to {_new(after[1:], names)}"
        case "move":
            to = _new(after, names) if after and set(after) <= set(founded) else _many(after, names)
            return f"Moved an appearance of {subject} to {to}: {_videos(row.videos)}"
        case "rename":
            if not row.after_name:
                return f"Removed the name {_quoted(row.before_name)} of {before[0] if before else ERASED}"
            was = f" (was {_quoted(row.before_name)})" if row.before_name else ""
            return f"Named {before[0] if before else ERASED} {_quoted(row.after_name)}{was}"
        case "hide":
            return f"Marked {subject} as not an influencer"
        case "unhide":
            return f"Counted {subject} as an influencer again"
        case "delete":
            return f"Erased a person: {_videos(row.videos)} changed"
        case "enrol":
            changed = f": {_videos(row.videos)} changed" if row.videos else ""  # a match named: no video moved
            return f"Enrolled {row.after_name or subject} from photos{f' as {after[0]}' if after else ''}{changed}"
        case "review different":
            return f"Kept {_many(before, names)} apart"
        case "review skip":
            return f"Skipped the question about {_many(before, names)}"
        case "undo":
            what = (f'"{describe(undone)}"' if undone is not None
                    else f"correction {row.undoes}" if row.undoes else "a correction")
            if not (row.videos or row.faces):  # a rename, hide or answer moves no face: "0 faces back" read as
                return f"Undid {what}"          # an undo that did nothing
            return f"Undid {what}: {_videos(row.videos)}, {row.faces} faces back"
    return f"{row.action}: {_videos(row.videos)}"


def founded_by(row: AuditRow, named_before: Collection[str]) -> set[str]:
    """The influencers a move founded (moved "to a new influencer"): its target when that has a split's id (`inf_`,
    10 hex digits and a suffix: services/identity/corrections.py; a face-found id has no suffix) and no earlier
    correction in force names it (`named_before`: the ids that rows before this one name, but for undos and the
    rows an undo before this one reverted: a move to a new influencer undone, then made again, founds it again).
    Empty for any other row: a split's are always new (describe), and nothing else founds anyone."""
    if row.action != "move":
        return set()
    return {i for i in row.after_ids if len(i) > len("inf_") + 10 and i not in named_before}


def audit_frame(rows: Sequence[AuditRow]) -> pd.DataFrame:
    """The trail as a table, newest first as given (audit.csv's columns; ids separated by blanks)."""
    by_id = {r.audit_id: r for r in rows}
    founded: dict[str, set[str]] = {}
    naming: dict[str, set[str]] = {}  # id -> the rows in force so far that name it
    for r in sorted(rows, key=lambda r: r.position):  # oldest first: the ids named before each move
        founded[r.audit_id] = founded_by(r, {i for i, by in naming.items() if by})
        if r.action == "undo":
            for by in naming.values():
                by.discard(r.undoes)
        else:
            for i in (*r.before_ids, *r.after_ids):
                naming.setdefault(i, set()).add(r.audit_id)
    return pd.DataFrame([{
        "time_utc": r.time_utc, "actor": r.actor, "action": r.action,
        "what": describe(r, by_id.get(r.undoes), founded[r.audit_id]),
        "before_ids": " ".join(r.before_ids), "after_ids": " ".join(r.after_ids), "videos": r.videos,
        "faces": r.faces, "subject_hmac": r.subject_hmac, "undoes": r.undoes, "audit_id": r.audit_id,
        "feed_position": r.position} for r in rows], columns=CSV_COLUMNS)
