"""Corrections by hand recorded before they are applied: a side record per correction in flight, removed once
its change is in the feed. A kill between the face store's write and the feed's append (identity changed,
analytics never told) leaves the record, and the next start applies the correction again (each one is
idempotent on the store: pins and names set to what they already are change nothing; a merge or move whose
faces already moved is skipped; an undo puts back what its undo record says) and publishes every video's
appearances (a resync) with the labels of the influencers it named, so that analytics converges. The record
carries the correction's audit entry as it would have been published (its audit id chosen before the work, its
actor and ids), so that the finished correction is audited too, once: analytics keeps one row per audit id,
and a correction killed after its change was published is not audited twice."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from services.identity import undo
from services.identity.corrections import merged_into, record_answer
from services.identity.facestore import FaceStore
from services.identity.registry import IdentityRegistry
from services.identity.review import SAME

log = logging.getLogger(__name__)

KIND = "pending"
# How each journalled correction is applied again (arguments as recorded).
REPLAY: dict[str, Callable[[IdentityRegistry, dict[str, Any]], object]] = {
    # A merge is finished on what its ids stood for when it began: an id whose faces had moved stands for
    # nobody now (its merge record not yet written), and merging the ids again would refuse it.
    "merge": lambda r, a: _merge_again(r, a),
    # A split is finished into the new influencer chosen before it began (the faces left to move would found
    # another one); a record of an older release has none: it is derived from the store (_split_again).
    "split": lambda r, a: _split_again(r, a),
    "move": lambda r, a: _move_again(r, a),  # as a split
    "hide": lambda r, a: r.hide(a["id"], bool(a["hidden"])),
    "rename": lambda r, a: r.rename(a["id"], a["name"]),
    "answer": lambda r, a: _answer_again(r, a),
    "undo": lambda r, a: undo.finish(r.store, a["audit_id"], str(a.get("by", ""))),
    "enrol": lambda r, a: _enrol_again(r, a),
}


def _merge_again(registry: IdentityRegistry, args: dict[str, Any]) -> None:
    """Finishes a merge on what its ids stood for when it began ("live"). A record of an older release keeps the
    ids given alone: what each stands for now, and an id that stands for nobody (the kill moved its faces, and
    its merge record was not yet written) joins them, as it would have; named in `args` for the resync."""
    if not args.get("live"):
        stood = {str(i): _stands_for(registry, str(i)) for i in args["ids"]}
        live = list(dict.fromkeys(s for s in stood.values() if s))
        if not live:
            raise KeyError(f"none of {sorted(stood)} stands for an influencer")
        args["live"] = [*live, *(i for i, s in stood.items() if not s)]
    registry.join(list(dict.fromkeys(args["live"])))


def _stands_for(registry: IdentityRegistry, influencer_id: str) -> str:
    """The influencer `influencer_id` stands for now (itself, or the one it was merged into); "" for none."""
    try:
        return registry.live_ids([influencer_id])[0]
    except KeyError:
        return ""


def _split_again(registry: IdentityRegistry, args: dict[str, Any]) -> None:
    """Finishes a split into its new influencer: as recorded, or, in a record of an older release (no target),
    the one a kill left faces in (corrections.interrupted_target), named in `args` for the resync."""
    if not args.get("target"):
        args["target"] = registry.interrupted_target(str(args["id"]), list(args["videos"]))
        if not args["target"]:
            raise KeyError(f"{args['id']} has no faces in the videos given, nor has a split of them")
    registry.split(str(args["id"]), list(args["videos"]), str(args["target"]))


def _move_again(registry: IdentityRegistry, args: dict[str, Any]) -> None:
    """Finishes a move into the influencer chosen when it began. A record of an older release did not keep it
    ("chosen"): a move to a new influencer goes to the one a kill left its faces in (as a split's), a move to
    an existing one to that one, when it or the source is in the video (else the move had nothing to move)."""
    video, source, target = str(args["video"]), str(args["id"]), str(args["target"])
    if "chosen" not in args and target != source:
        there = {f.record.influencer_id for f in registry.store.faces_in(video)}
        args["chosen"] = (target if {source, target} & there else "") if target \
            else registry.interrupted_target(source, [video])
    registry.move(video, source, target, str(args.get("chosen", "")))


def _answer_again(registry: IdentityRegistry, args: dict[str, Any]) -> None:
    """Applies a review answer again. A "same" whose merge had moved every face of one of the pair (both had
    faces when it began: it was refused otherwise) is finished as that merge, into the one left."""
    a, b, reply = str(args["a"]), str(args["b"]), str(args["reply"])
    left = [i for i in (a, b) if registry.store.faces_of(i)]
    if reply == SAME and len(left) == 1 and not merged_into(registry.store, ({a, b} - set(left)).pop()):
        registry.join([left[0], *({a, b} - set(left))])
        record_answer(registry.store, a, b, reply)
        return
    registry.answer(a, b, reply)


def _enrol_again(registry: IdentityRegistry, args: dict[str, Any]) -> None:
    """Enrols the photos' encodings again (their faces are upserted under the same ids, the name set to what it
    is), and names the influencer they joined in `args` ("target")."""
    photos = [(str(p), np.asarray(v, np.float32)) for p, v in args["photos"]]
    args["target"] = registry.enrol(str(args["name"]), photos)[0]


def record(store: FaceStore, op: str, args: dict[str, Any], audit: dict[str, Any] | None = None) -> str:
    """Records correction `op` with `args` before it is applied, with `audit` (its audit entry's audit_id,
    action, actor, before and after ids, undoes); returns the record's key."""
    key = uuid.uuid4().hex
    store.set_side(KIND, key, {"key": key, "op": op, "args": args, "audit": audit or {}})
    return key


def done(store: FaceStore, key: str) -> None:
    store.set_side(KIND, key, None)


def influencers_named(args: dict[str, Any]) -> list[str]:
    """The influencer ids a correction's arguments name."""
    named = [args.get(k, "") for k in ("id", "target", "chosen", "a", "b")] + list(args.get("ids", [])) \
        + list(args.get("live", []))  # a merge: what its ids stood for when it ran
    return sorted({str(i) for i in named if i})


def replay_pending(store: FaceStore, registry: IdentityRegistry
                   ) -> list[tuple[str, list[str], dict[str, Any]]]:
    """Applies again every correction a kill interrupted; returns (record key, influencers named, its audit
    entry as recorded) of each, for the caller to publish and then mark done."""
    out = []
    for entry in list(store.side_records(KIND)):
        op, args = str(entry.get("op", "")), dict(entry.get("args") or {})
        try:
            REPLAY[op](registry, args)
        except (KeyError, ValueError) as exc:  # already applied (faces moved), or no longer applicable
            log.info("interrupted %s was already applied or no longer applies: %s", op, exc)
        log.warning("finished an interrupted %s (recorded before a kill)", op)
        audit = dict(entry.get("audit") or {})
        if audit and not audit.get("after") and args.get("target"):  # chosen as it ran (an enrolment)
            audit["after"] = [args["target"]]
        out.append((str(entry["key"]), influencers_named(args), audit))
    return out
