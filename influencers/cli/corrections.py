"""The identity corrections against running services (recluster, merge, split, rename, enrol, move, hide,
unhide, delete, undo, review, answer): each says what it did, then waits (bounded) for analytics to apply it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from influencers.cli.config import settings_from_args
from influencers.cli.connect import reach_flags, running_services
from influencers.cli.output import usage_error
from influencers.cli.photo_files import PhotoError, photo_bytes
from influencers.names import Resolver
from services.common.clients import CATCHING_UP, REVIEW_ANSWERS, drain
from services.common.name_text import for_terminal
from services.common.names import namesakes, shared_name_note, with_id
from services.common.protoconv import review_reason_word, seconds
from services.common.unchanged import hide_unchanged, rename_unchanged
from services.identity.photos import IMAGE_MAGIC

if TYPE_CHECKING:
    from influencers.v1 import identity_pb2
    from services.common.clients import GrpcAnalytics

# Columns two blanks apart (a stored name never holds two blanks in a row); the names last, after the ids
REVIEW_HEADER = "influencer_a  influencer_b  face_distance  why_asked  seen_a  seen_b  probability_same  name_a  name_b"


def review_line(item: identity_pb2.ReviewItem, names: dict[str, str]) -> str:
    """One pair of the review queue as `influencers review` lists it: ids, distance, why asked, where each was
    seen, the probability, then each name ("-" when unnamed)."""
    at_a, at_b = seconds(item.timestamp_a), seconds(item.timestamp_b)
    return (f"{item.influencer_a}  {item.influencer_b}  {item.distance:.3f}  {review_reason_word(item.reason)}  "
            f"{item.video_id_a}@{at_a:.1f}s  {item.video_id_b}@{at_b:.1f}s  {round(100 * item.probability)}%  "
            f"{for_terminal(names.get(item.influencer_a) or '-')}  {for_terminal(names.get(item.influencer_b) or '-')}")


def empty_review(found: identity_pb2.ListReviewItemsResponse) -> str:
    """What `influencers review` prints on stdout in place of a list with no pair in it: a blank answer read as a
    command that failed or printed to the wrong place. Says how many less likely pairs `--all` would list."""
    if found.unlikely:
        return f"No pairs are likely to be one person ({found.unlikely} under the floor: --all lists them)"
    return "No pairs to review"


def review_notes(found: identity_pb2.ListReviewItemsResponse, listed_all: bool) -> list[str]:
    """What `influencers review` says on stderr under its list: how many pairs one answer of identity left out
    (it sends the most likely ones, at most a page) and the less likely pairs `--all` adds. Nothing of an empty
    list: stdout says that (empty_review)."""
    if not found.items:
        return []
    notes = []
    listed = found.likely + (found.unlikely if listed_all else 0)
    if found.items and len(found.items) < listed:
        notes.append(f"these are the {len(found.items)} most likely of {listed} pairs: the rest are listed as "
                     f"these are answered")
    if found.unlikely and not listed_all:
        pairs = "pair" if found.unlikely == 1 else "pairs"
        notes.append(f"{found.unlikely} less likely {pairs} under {round(100 * found.floor)}%: --all lists them")
    return notes


def several_faces(photos: list[str], faces_per_photo: Sequence[int]) -> list[str]:
    """What `enrol` says of each photo in which identity found several faces (it enrols the largest): "PHOTO: the
    photo had N faces; enrolled the largest". Nothing from an identity that does not count them."""
    return [f"{for_terminal(photo)}: the photo had {n} faces; enrolled the largest"
            for photo, n in zip(photos, faces_per_photo, strict=False) if n > 1]


def _followed(args: argparse.Namespace, analytics: GrpcAnalytics, changed_videos: int, position: int) -> int:
    """Prints what changed once analytics has applied identity's change up to `position` (waiting at most
    INFLUENCERS_FEED_WAIT_S seconds; past that, says analytics is still catching up)."""
    if changed_videos:  # a rename or a hide moves no face: nothing to count
        print(f"{changed_videos} video{'' if changed_videos == 1 else 's'} changed people")
    if not analytics.wait_for_position(position, settings_from_args(args).feed_wait_s):
        print(f"{CATCHING_UP} (identity's change {position})")
    return 0


def _written(args: argparse.Namespace, analytics: GrpcAnalytics, reply: identity_pb2.Changes) -> int:
    """What a correction did, in a sentence with its audit id (and how to undo it), then _followed."""
    from services.analytics.audit import describe, row_from_entry

    row = row_from_entry(reply.audit)
    if row is not None:
        where = reach_flags(settings_from_args(args), "identity", "analytics")
        undo = f"; `influencers undo {row.audit_id}{where}` reverts it" if row.undoable else ""
        # A move with no TARGET founded the influencer it went to: said as new, as the page says it
        founded = row.after_ids if args.command == "move" and not args.target else ()
        print(f"{for_terminal(describe(row, founded=founded))} (audit {row.audit_id}{undo})")
    return _followed(args, analytics, reply.changed_videos, reply.feed_position)


def undo_sentence(entry: identity_pb2.AuditEntry) -> str:
    """What an undo took back, in words, from its audit entry alone (the reverted row is in analytics, not at the
    CLI's hand): the correction as the audit trail tells it (`Undid "Merged Tony into Ana: 3 videos": 3 videos,
    12 faces back`), a rename by the name that is back; "Undid correction ID" when the entry names no action (an
    identity of an older release)."""
    from services.analytics.audit import ACTIONS, ERASED, AuditRow, describe, row_from_entry

    row = row_from_entry(entry)
    action = ACTIONS.get(entry.undoes_action, "")
    if row is None or action in ("", "undo"):
        return describe(row) if row is not None else "Undid a correction"
    if action == "rename":  # the undo's names are as it left them: the old name, or none
        renamed = (list(entry.before_ids) or [ERASED])[0]
        name = entry.names.get(renamed, "")
        return f"Undid the rename of {renamed}: " + (f"named '{name}' again" if name else "no name again")
    undone = AuditRow(entry.undoes, action, "", 0.0, before_ids=tuple(entry.after_ids),
                      after_ids=tuple(entry.before_ids), names=dict(entry.names), videos=entry.videos)
    return describe(row, undone)


def cmd_identity(args: argparse.Namespace) -> int:
    """merge / split / rename / recluster against a running identity service; identity publishes the change
    in its feed, analytics applies it by itself, and this waits (bounded) until it has."""
    ident, analytics = running_services(args)
    who = Resolver(ident)
    if args.command == "recluster":
        got = drain(ident.recluster((), resync_only=False))
        n = got.changed_videos
        print(f"re-clustered the whole store: {n} video{'' if n == 1 else 's'} changed people")
        return _followed(args, analytics, 0, got.position)
    if args.command == "rename":
        target = who.one(args.id)
        others = namesakes(target, args.name, who.known())
        reply = ident.rename(target, args.name)
        if not reply.audit.audit_id:  # the name it had already (or no name for someone unnamed)
            had = reply.labels[0].name
            print(rename_unchanged(target, for_terminal(had)))  # not repr's escapes
            # given a moment before (by another analyst): shown once analytics has it, as after a rename
            return _followed(args, analytics, 0, reply.feed_position)
        code = _written(args, analytics, reply)
        if others:
            print(for_terminal(shared_name_note(" ".join(args.name.split()), others)))
        return code
    if args.command == "merge":
        ids = who.merge(args.ids, args.into or "")
        if len(ids) < 2:
            return usage_error("merge: give at least two different influencers")
        print(f"merging into {_named(who, ids[0])}: {', '.join(_named(who, i) for i in ids[1:])}")
        reply = ident.merge(ids)
        if not reply.audit.audit_id:  # merged before (run twice, or by another analyst a moment before)
            print("they are one influencer already: nothing changed")
            return _followed(args, analytics, 0, reply.feed_position)
        code = _written(args, analytics, reply)
        kept = reply.audit.after_ids[0] if reply.audit.after_ids else ids[0]
        if any(x.influencer_id == kept and x.hidden for x in reply.labels):  # one of them was hidden: all are now
            print(f"{_named(who, kept)} is hidden (not an influencer), as one of those merged was: left out of the "
                  f"statistics; `influencers unhide {kept}` counts them")
        return code
    return _written(args, analytics, ident.split(who.one(args.id), args.videos))


def _named(who: Resolver, influencer_id: str) -> str:
    """`Name (inf_…)`, or the id alone for an unnamed influencer (names.with_id, as the page's messages name
    namesakes); fit for a terminal (for_terminal)."""
    name = next((k.name for k in who.known() if k.influencer_id == influencer_id), "")
    return with_id(for_terminal(name), influencer_id)


def cmd_correct(args: argparse.Namespace) -> int:
    """enrol / move / hide / unhide / delete / review / answer against a running identity service; each
    correction is kept by identity as a constraint on the faces and published in its feed; analytics applies
    it by itself, and this waits (bounded) until it has."""
    ident, analytics = running_services(args)
    who = Resolver(ident)
    if args.command == "review":
        found = ident.review_queue(0, include_unlikely=args.all)
        names = {k.influencer_id: k.name for k in who.known()} if found.items else {}
        print(REVIEW_HEADER if found.items else empty_review(found))  # the columns' names first
        for item in found.items:
            print(review_line(item, names))
        for note in review_notes(found, args.all):  # said on stderr: stdout stays the list a script reads
            print(note, file=sys.stderr)
        return 0
    if args.command == "enrol":
        photos = []
        for name in args.photos:
            try:
                photo = photo_bytes(name)
            except PhotoError as exc:
                return usage_error(str(exc))
            if not photo.startswith(IMAGE_MAGIC):  # named here: identity knows the photos by their order only
                return usage_error(f"photo {name[:80]!r} is not a JPEG or PNG image")
            photos.append(photo)
        enrolled = ident.enrol(args.name, photos)
        for k in enrolled.photos_without_face:
            print(f"no face found in {for_terminal(args.photos[k])}", file=sys.stderr)
        for line in several_faces(args.photos, enrolled.faces_per_photo):
            print(line, file=sys.stderr)
        n = enrolled.faces_enrolled
        faces = f"{n} reference face{'' if n == 1 else 's'}"
        print(f"{enrolled.influencer.influencer_id}: {for_terminal(args.name)} ({faces})")
        return _written(args, analytics, enrolled.changes)
    if args.command == "move":
        target = who.one(args.target) if args.target else ""
        return _written(args, analytics, ident.move(args.video_id, who.one(args.id), target))
    if args.command in ("hide", "unhide"):
        target = who.one(args.id)
        reply = ident.hide(target, args.command == "hide")
        if not reply.audit.audit_id:  # hidden (or shown) already: identity wrote nothing
            print(hide_unchanged(_named(who, target), args.command == "hide"))
            return _followed(args, analytics, 0, reply.feed_position)
        return _written(args, analytics, reply)
    if args.command == "delete":
        erased = ident.erase(who.one(args.id))
        if erased.already_erased:
            print(f"{for_terminal(args.id)} was already erased; the erasure was published again")
        return _written(args, analytics, erased.changes)
    if args.command == "undo":
        reply = ident.undo(args.audit_id)
        if not reply.audit.audit_id:  # identity answers a second undo with no change and no audit entry
            print(f"correction {args.audit_id} was undone already: nothing changed")
            return 0
        print(f"{for_terminal(undo_sentence(reply.audit))} (audit {reply.audit.audit_id})")
        return _followed(args, analytics, reply.changed_videos, reply.feed_position)
    a, b = who.one(args.a), who.one(args.b)
    reply = ident.answer(a, b, REVIEW_ANSWERS[args.answer])
    if not reply.audit.audit_id:  # the same answer again: identity wrote nothing (this printed nothing at all)
        print(f"{_named(who, a)} and {_named(who, b)} were answered '{args.answer}' already: nothing changed")
        return _followed(args, analytics, 0, reply.feed_position)
    return _written(args, analytics, reply)
