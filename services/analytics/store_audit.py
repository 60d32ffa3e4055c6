"""The audit table's statements: append a row (inside the feed's write transaction), take an erased person out of
earlier rows, and read rows newest first, a page at a time (services/common/paging.py tokens: the feed position
of the last row sent; positions are unique per row, one correction per change)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from services.analytics.audit import ERASED, AuditRow
from services.analytics.store_schema import audit, audit_ids


def _values(row: AuditRow) -> dict[str, object]:
    return {"audit_id": row.audit_id, "position": row.position, "time_s": row.time_s, "action": row.action,
            "actor": row.actor, "before_ids": json.dumps(list(row.before_ids)),
            "after_ids": json.dumps(list(row.after_ids)), "names": json.dumps(dict(sorted(row.names.items()))),
            "before_name": row.before_name, "after_name": row.after_name, "videos": row.videos, "faces": row.faces,
            "subject_hmac": row.subject_hmac, "undoable": int(row.undoable), "undoes": row.undoes}


def _row(values: sa.Row) -> AuditRow:
    v = values._mapping
    return AuditRow(audit_id=v["audit_id"], action=v["action"], actor=v["actor"], time_s=float(v["time_s"]),
                    before_ids=tuple(json.loads(v["before_ids"])), after_ids=tuple(json.loads(v["after_ids"])),
                    names=json.loads(v["names"]), before_name=v["before_name"], after_name=v["after_name"],
                    videos=int(v["videos"]), faces=int(v["faces"]), subject_hmac=v["subject_hmac"],
                    undoable=bool(v["undoable"]), undoes=v["undoes"], position=int(v["position"]))


def _index_rows(row: AuditRow) -> list[dict[str, object]]:
    """The rows of `audit_ids` for `row`: each id it names before or after, once (ERASED is no id)."""
    return [{"influencer_id": i, "audit_id": row.audit_id, "position": row.position,
             "in_before": int(i in row.before_ids), "in_after": int(i in row.after_ids)}
            for i in dict.fromkeys([*row.before_ids, *row.after_ids]) if i != ERASED]


def append(c: Connection, row: AuditRow) -> bool:
    """Appends `row` unless its audit id is there already (a replay); True when it was new."""
    insert = (postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert)(audit)
    done = c.execute(insert.values(_values(row)).on_conflict_do_nothing(index_elements=["audit_id"]))
    if done.rowcount and (indexed := _index_rows(row)):
        c.execute(audit_ids.insert(), indexed)
    return bool(done.rowcount)


def erase(c: Connection, influencer_id: str) -> int:
    """Takes an erased influencer's id and name out of every row that names it; returns how many rows."""
    needle = f"%{json.dumps(influencer_id)}%"
    found = c.execute(sa.select(audit).where(sa.or_(audit.c.before_ids.like(needle), audit.c.after_ids.like(needle),
                                                     audit.c.names.like(needle)))).all()
    for values in found:
        clean = _values(_row(values).without(influencer_id))
        c.execute(audit.update().where(audit.c.audit_id == clean.pop("audit_id")).values(clean))
    c.execute(audit_ids.delete().where(audit_ids.c.influencer_id == influencer_id))
    return len(found)


def ids_named(c: Connection) -> set[str]:
    """Every influencer id the trail names (before or after a correction): where an erasure looks for the ids of
    its keyed hashes that no appearance or name holds any more (a person's older id, merged into them)."""
    return set(c.execute(sa.select(audit_ids.c.influencer_id).distinct()).scalars())


def page(c: Connection, before_position: int, limit: int) -> tuple[list[AuditRow], int]:
    """Up to `limit` rows older than `before_position` (0: from the newest), newest first, and the position
    to continue before (0: that was the last page)."""
    query = sa.select(audit).order_by(audit.c.position.desc()).limit(limit + 1)
    if before_position > 0:
        query = query.where(audit.c.position < before_position)
    rows = [_row(r) for r in c.execute(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].position if more and rows else 0)


def newest_leaving(c: Connection, influencer_id: str) -> AuditRow | None:
    """The newest row that took `influencer_id` away (among its ids before, not after: a merge, a recluster),
    unless an undo reverted it; None when no row did. Read by the index `audit_ids` (was: every row's JSON scanned
    with LIKE, 27 ms a call at 5,000 rows)."""
    leaving = (sa.select(audit_ids.c.audit_id)
               .where(audit_ids.c.influencer_id == influencer_id, audit_ids.c.in_before == 1,
                      audit_ids.c.in_after == 0)
               .order_by(audit_ids.c.position.desc()))
    found = list(c.execute(leaving).scalars())
    reverted = undone(c, found)
    newest = next((a for a in found if a not in reverted), None)
    return one(c, newest) if newest is not None else None


def named_before(c: Connection, influencer_ids: list[str], position: int) -> set[str]:
    """Those of `influencer_ids` that a correction older than feed `position` names, leaving out undos and the
    rows an undo older than `position` reverted (audit.founded_by). By the index `audit_ids`."""
    if not influencer_ids:
        return set()
    undo = audit.alias("undo")
    reverted = sa.exists().where(undo.c.undoes == audit.c.audit_id, undo.c.position < position)
    return set(c.execute(
        sa.select(audit_ids.c.influencer_id).distinct().join(audit, audit.c.audit_id == audit_ids.c.audit_id)
        .where(audit_ids.c.influencer_id.in_(influencer_ids), audit_ids.c.position < position,
               audit.c.action != "undo", ~reverted)).scalars())


def one(c: Connection, audit_id: str) -> AuditRow | None:
    found = c.execute(sa.select(audit).where(audit.c.audit_id == audit_id)).first()
    return _row(found) if found is not None else None


def undone(c: Connection, audit_ids: list[str]) -> set[str]:
    """Those of `audit_ids` that an undo row reverted."""
    if not audit_ids:
        return set()
    return set(c.execute(sa.select(audit.c.undoes).where(audit.c.undoes.in_(audit_ids))).scalars())


def every(c: Connection) -> list[AuditRow]:
    """Every row, newest first."""
    return [_row(values) for values in c.execute(sa.select(audit).order_by(audit.c.position.desc()))]


def count(c: Connection) -> int:
    return int(c.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one())
