"""Identity's writes as changes of its feed: a correction applied, audited, made undoable and published; an
erasure recorded, applied and scrubbed; an undo; a recluster or resync; and, at start, the corrections and
erasures a kill interrupted, finished. The servicer (server.py) turns requests into these calls and their
answers into protos; this class knows no gRPC status: a refusal is an exception for the servicer to map.

Every write runs under the registry's lock together with the append of its change to the feed, so that the
feed's order is the face store's (a change read after another write would carry a state the feed then
overwrites with an older one)."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator

from influencers.v1 import common_pb2, identity_pb2
from services.common import tracing
from services.common.crash import crash_point
from services.common.damage import DiskFull
from services.common.erasure import erasure_key
from services.common.settings import Settings
from services.identity import erasure, journal, undo
from services.identity.audit import keyed_hash, new_entry
from services.identity.conversions import hidden_labels_pb, label_pb, videos_pb
from services.identity.corrections import now_utc
from services.identity.feed import CHANGE_VIDEOS, ChangeFeed
from services.identity.registry import IdentityRegistry, Label

log = logging.getLogger(__name__)

RECLUSTER_PAGE = 200  # videos per message of a Recluster stream

Work = Callable[[], tuple[list[str], list[Label]]]  # a correction: the videos it changed, the labels it set


class ChangeWriter:
    """Identity's writes, each under the registry's lock with the append of its change to the feed."""

    def __init__(self, registry: IdentityRegistry, feed: ChangeFeed, settings: Settings,
                 audit_key: bytes = b"") -> None:
        """`audit_key`: the key of the keyed hash of an erased id (services/identity/audit.py); a random one
        for this process when not given."""
        self.registry = registry
        self.feed = feed
        self.settings = settings
        self.audit_key = audit_key or secrets.token_bytes(32)

    def publish(self, kind: int, videos: list[str], labels: list[Label] = (), forgotten: list[str] = (),
                audit: identity_pb2.AuditEntry | None = None) -> list[int]:
        """Appends the current appearances of `videos` (CHANGE_VIDEOS a change), their names and hidden
        flags, then `labels` and `forgotten` (in the last change), to the feed; returns the positions.
        Call under the registry's lock, after the face store write."""
        if not videos and not labels and not forgotten and audit is None:
            return []
        names, hidden = self.registry.names(), self.registry.store.hidden()
        given = {x.influencer_id for x in labels}
        traceparent = tracing.current_traceparent()  # analytics applies each change in this trace
        changes = []
        for start in range(0, max(len(videos), 1), CHANGE_VIDEOS):
            page = self.registry.appearances(videos[start:start + CHANGE_VIDEOS])
            ids = {a.influencer_id for apps in page.values() for a in apps}
            change = identity_pb2.Change(
                kind=kind,  # type: ignore[arg-type]
                videos=videos_pb(page),
                names={i: names[i] for i in ids if names.get(i)},
                labels=hidden_labels_pb((ids & hidden) - given, names), traceparent=traceparent)
            self.flag_reposts(change.videos)
            change.create_time.GetCurrentTime()
            for video in change.videos:  # crops travel by reference only
                for appearance in video.appearances:
                    appearance.best_face = b""
            changes.append(change)
        changes[-1].labels.extend(label_pb(x) for x in labels)
        changes[-1].forgotten_video_ids.extend(forgotten)
        if audit is not None:
            changes[-1].audit.CopyFrom(audit)
        return self.feed.append(changes)

    def position(self, positions: list[int]) -> int:
        """The last of `positions`, or the head when the call appended nothing."""
        return positions[-1] if positions else self.feed.head()

    def forget(self, video_id: str) -> tuple[int, int]:
        """Removes every face of `video_id` and publishes it as forgotten; returns the faces removed and the
        feed position."""
        with self.registry.lock:
            removed = self.registry.forget(video_id)
            position = self.position(self.publish(identity_pb2.CHANGE_KIND_FORGET, [], [], [video_id]))
        return removed, position

    def snapshot(self, stopped: Callable[[], bool] = lambda: False) -> Iterator[identity_pb2.Changes]:
        """Every video's appearances, a page per message, the first carrying the feed's head, id and digest, without
        publishing anything; nothing once `stopped()` (the caller gone) while it waits for the registry's lock."""
        # A snapshot: consistent with the head read before the videos are listed. A write while the pages
        # are read may show in them too; the follower replays the feed after the head over them, and
        # each change replaces whole videos, so the result converges to the feed's.
        with self.registry.lock.taken_unless(stopped) as taken:
            if not taken:
                return
            head = self.feed.head()
            at = self.feed.digest(head)  # the follower checks it against the entry at head when it reads on
            videos = list(self.registry.store.video_ids())
        for k, msg in enumerate(self.pages(videos)):
            if k == 0:
                msg.feed_position = head
                msg.feed_id = self.feed.feed_id
                msg.feed_digest = at
            yield msg

    def recluster(self, video_ids: list[str] | None, resync_only: bool,
                  stopped: Callable[[], bool] = lambda: False) -> list[identity_pb2.Changes]:
        """Reclusters `video_ids` (None: every video) and publishes the videos changed, or with `resync_only`
        publishes every video as it is; returns what was published, as it is in the feed, a change per
        message: the first carries the totals, the last the feed position. Nothing, nothing done, once
        `stopped()` (the caller gone) while it waits for the registry's lock."""
        with self.registry.lock.taken_unless(stopped) as taken:
            if not taken:
                return []
            if resync_only:
                videos = list(self.registry.store.video_ids())
                kind = identity_pb2.CHANGE_KIND_RESYNC
            else:
                videos = self.registry.recluster(video_ids)
                kind = identity_pb2.CHANGE_KIND_RECLUSTER
            positions = self.publish(kind, videos)
            last = self.position(positions)
        # The stream is read back from the feed: the feed is complete whether or not the caller reads it all.
        influencers: set[str] = set()
        pages = []
        for change in self.feed.entries(positions):
            influencers |= {a.influencer_id for v in change.videos for a in v.appearances}
            pages.append(identity_pb2.Changes(videos=change.videos, names=change.names,
                                                        labels=change.labels))
        pages = pages or [identity_pb2.Changes()]
        pages[0].changed_videos = len(videos)
        pages[0].influencers = len(influencers)
        pages[-1].feed_position = last
        return pages

    def pages(self, videos: list[str]) -> Iterator[identity_pb2.Changes]:
        """The appearances of `videos`, a page of videos per message; the first carries the totals."""
        names = self.registry.names()
        hidden = self.registry.store.hidden()
        influencers: set[str] = set()
        first = True
        for start in range(0, max(len(videos), 1), RECLUSTER_PAGE):
            page = self.registry.appearances(videos[start:start + RECLUSTER_PAGE])
            ids = {a.influencer_id for apps in page.values() for a in apps}
            influencers |= ids
            msg = identity_pb2.Changes(
                videos=videos_pb(page),
                names={i: names[i] for i in ids if names.get(i)},
                # A resync carries the hidden flags too, so that analytics rebuilt from identity keeps them.
                labels=hidden_labels_pb(ids & hidden, names))
            self.flag_reposts(msg.videos)
            if first:
                msg.changed_videos = len(videos)
                first = False
            yield msg

    def correct(self, work: Work, actor: str, action: int, involved: list[str] | Callable[[], list[str]],
                kind: int = identity_pb2.CHANGE_KIND_CORRECTION,
                ids: Callable[[dict | None], tuple[list[str], list[str]]] | None = None,
                journal_entry: tuple[str, dict[str, object]] | None = None) -> identity_pb2.Changes:
        """Runs a correction (`work` returns the changed videos and the labels it set) and publishes its change
        with its audit entry for `actor`, under the registry's lock; the answer carries the change's position
        and the entry. `involved`: the influencers it touches (what an undo puts back is captured around
        them), or a function finding them under the registry's lock (a merge: what each id given stands for
        now); `ids(undo record)`: the ids before and after, asked after `work` (default: `involved` both).
        `journal_entry` (op, arguments): the correction is recorded before it is applied and the record
        removed once published (journal.py), so a kill between the two is finished at the next start.
        Whatever `work` raises (its refusal) is raised again, its journal record removed."""
        undoable = action != identity_pb2.AUDIT_ACTION_ENROL
        with self.registry.lock:
            if callable(involved):
                involved = involved()
            audit_id = uuid.uuid4().hex  # chosen now: the journal's record carries it (journal.py)
            key = ""
            if journal_entry:
                planned = ids(None) if ids else (involved, involved)
                key = journal.record(self.registry.store, *journal_entry, audit=_planned(
                    audit_id, action, actor, *planned))
            before = undo.capture(self.registry.store, involved) if undoable else None
            names_before = self.registry.names()
            try:
                videos, labels = work()
            except BaseException:  # refused (NOT_FOUND, INVALID_ARGUMENT, a full disk): nothing to finish later
                if key:
                    journal.done(self.registry.store, key)
                raise
            crash_point("correct:applied")
            record = undo.difference(before, undo.again(self.registry.store, before)) if before else None
            if record is not None and undo.is_empty(record) and not videos:
                # It changed nothing (a double submit, or another analyst's correction of the same people got
                # there first): not audited, as a rename to the name it has; its labels are published still.
                position = self.position(self.publish(kind, videos, labels))
                if key:
                    journal.done(self.registry.store, key)
                reply = self.changes(videos, labels)
                reply.feed_position = position
                return reply
            before_ids, after_ids = ids(record) if ids else (involved, involved)
            names_after = self.registry.names()
            names = {**{i: names_before.get(i, "") for i in before_ids}, **names_after}
            entry = new_entry(action, actor, before_ids, after_ids, names, videos=len(videos),
                              faces=undo.moved(record), undoable=bool(record and not undo.is_empty(record)))
            entry.audit_id = audit_id
            if action in (identity_pb2.AUDIT_ACTION_RENAME, identity_pb2.AUDIT_ACTION_ENROL) and after_ids:
                entry.before_name = names_before.get(after_ids[0], "")
                entry.after_name = names_after.get(after_ids[0], "")
            if entry.undoable:
                record["entry"] = {"action": action, "before": list(entry.before_ids), "after": list(entry.after_ids)}
                undo.keep(self.registry.store, entry.audit_id, record, now_utc())
            position = self.position(self.publish(kind, videos, labels, audit=entry))
            crash_point("correct:published")
            if key:
                journal.done(self.registry.store, key)
        reply = self.changes(videos, labels)
        reply.feed_position = position
        reply.audit.CopyFrom(entry)
        return reply

    def changes(self, videos: list[str], labels: list[Label] = ()) -> identity_pb2.Changes:
        """The changes of a correction in one message (they follow the influencers corrected), with the
        labels of the influencers it touched."""
        reply = identity_pb2.Changes(changed_videos=len(videos))
        for msg in self.pages(videos):
            reply.videos.extend(msg.videos)
            reply.names.update(msg.names)
            reply.labels.extend(x for x in msg.labels if x.influencer_id not in {y.influencer_id for y in labels})
        reply.influencers = len({a.influencer_id for v in reply.videos for a in v.appearances})
        reply.labels.extend(common_pb2.InfluencerLabel(influencer_id=x.influencer_id, name=x.name, hidden=x.hidden,
                                                       deleted=x.deleted) for x in labels)
        return reply

    def undo(self, audit_id: str, actor: str) -> identity_pb2.Changes:
        """Puts back what the correction audited as `audit_id` changed, audited for `actor` as its undo, and
        publishes it. Undone already (a double submit): nothing changes, nothing is audited, and the answer
        carries the feed's head. Raises KeyError (no such correction kept) or undo.Conflict (what it changed
        has changed since)."""
        store = self.registry.store
        with self.registry.lock:
            record = undo.check(store, audit_id)
            if record is None:  # undone already (a double submit): nothing changes, nothing is audited
                return identity_pb2.Changes(feed_position=self.feed.head())
            original = record.get("entry", {})
            ids = list(record.get("ids", []))
            before, after = list(original.get("after", ids)), list(original.get("before", ids))
            # Recorded once the undo is known to apply, before its first write: a kill from here on is finished
            # at the next start (journal.py), whatever the undo had written.
            planned = _planned(uuid.uuid4().hex, identity_pb2.AUDIT_ACTION_UNDO, actor, before, after, audit_id)
            key = journal.record(store, "undo", {"audit_id": audit_id, "ids": ids, "by": planned["audit_id"]},
                                 audit=planned)
            videos, ids, faces = undo.apply(store, audit_id, record, undone_by=str(planned["audit_id"]))
            crash_point("undo:applied")
            labels = self.registry.labels(ids)
            entry = new_entry(identity_pb2.AUDIT_ACTION_UNDO, actor, before, after, self.registry.names(),
                              len(videos), faces)
            entry.audit_id = str(planned["audit_id"])
            entry.undoes = audit_id
            entry.undoes_action = int(original.get("action", 0))  # type: ignore[assignment]
            position = self.position(self.publish(identity_pb2.CHANGE_KIND_CORRECTION, videos, labels,
                                                  audit=entry))
            journal.done(store, key)
        reply = self.changes(videos, labels)
        reply.feed_position = position
        reply.audit.CopyFrom(entry)
        return reply

    def delete(self, influencer_id: str, actor: str) -> tuple[identity_pb2.Changes, bool] | None:
        """Erases a person (see erase) for `actor`; returns the changes and whether it was erased already, or
        None for an id never stored nor erased. Repeating it is safe: an erasure a kill interrupted is
        finished, and one already finished publishes the erasure again (not audited again), so that
        analytics converges even if it missed it. Raises DiskFull when the disk has no room for it."""
        key = erasure_key(influencer_id, self.settings.erasure_secret)
        with self.registry.lock:
            known = erasure.state(self.registry.store, key)
            present = bool(self.registry.store.faces_of(influencer_id))
            if not known and not present:
                return None
            videos, position, audit = self.erase(influencer_id, key, actor if known != "done" else "")
        reply = self.changes(videos, [Label(influencer_id, deleted=True)])
        reply.feed_position = position
        if audit is not None:
            reply.audit.CopyFrom(audit)
        return reply, known == "done" and not present

    def erase(self, influencer_id: str, key: str, actor: str = "resumed"
              ) -> tuple[list[str], int, identity_pb2.AuditEntry | None]:
        """Erases `influencer_id`, recorded before it is applied: the record (with the id), the faces, crops
        and side records (corrections.delete, which finishes a half-done one), the erasure in the feed (its
        keyed hash, not the id), the record without the id; then every file is scrubbed of the person (the
        store's shards rewritten, the feed's older entries redacted, the old layout's copies removed).
        The erasure is audited for `actor` (no entry with "": a repeat of an erasure already audited), with
        the keyed hash of the id only. Returns the videos changed, the feed position and the audit entry.
        Call under the registry's lock."""
        store = self.registry.store
        faces = store.faces_of(influencer_id)
        # The person's older ids, merged into this one: taken out of the feed and analytics' trail too (a rename
        # of one before the merge kept the person's name there). Recorded with the erasure: the deletion drops the
        # merge records they are found by, so that an erasure resumed after a kill finds them in its record alone
        merged_in = erasure.begin(store, key, influencer_id,
                                  [self.face_key(f.record.vhash) for f in faces if f.record.vhash],
                                  self.registry.absorbed(influencer_id))
        crash_point("erase:recorded")
        subject = keyed_hash(self.audit_key, influencer_id)
        videos = self.registry.delete(influencer_id, subject if actor else "", missing_ok=True)
        crash_point("erase:deleted")
        entry = None
        if actor:
            entry = new_entry(identity_pb2.AUDIT_ACTION_DELETE, actor, [], [], {}, videos=len(videos),
                              faces=len(faces), undoable=False)
            entry.subject_hmac = subject
        older = [Label("", deleted=True, erased_key=erasure_key(i, self.settings.erasure_secret)) for i in merged_in]
        positions = self.publish(identity_pb2.CHANGE_KIND_ERASURE, videos,
                                 [Label("", deleted=True, erased_key=key), *older], audit=entry)
        crash_point("erase:published")
        erasure.finish(store, key)
        crash_point("erase:finished")
        try:
            store.scrub()
        except DiskFull as exc:  # the erasure holds; its bytes stay in the shards until a scrub has room
            log.error("erasure: the face store was not rewritten: %s", exc)
        for erased in (influencer_id, *merged_in):
            self.feed.redact(erased)
        if not self.settings.qdrant_url:
            erasure.remove_leftovers(self.settings.data_dir)
        return videos, self.position(positions), entry

    def face_key(self, vhash: str) -> str:
        """The keyed hash kept of an erased face's encoding hash (never the encoding or its plain hash)."""
        return erasure_key("face:" + vhash, self.settings.erasure_secret)[:20]

    def note_repost(self, video_id: str) -> None:
        """Flags `video_id` when one of its faces has the encoding of an erased person's face (a repost):
        a side record the feed carries as VideoAppearances.erased_person_utc."""
        keys = {self.face_key(f.record.vhash) for f in self.registry.store.faces_in(video_id) if f.record.vhash}
        when = erasure.reposted(self.registry.store, keys) if keys else ""
        if when:
            log.warning("video %s shows again a person erased on %s", video_id, when)
            self.registry.store.set_side("repost", video_id, {"video_id": video_id, "erased_utc": when})

    def flag_reposts(self, videos: Iterable[common_pb2.VideoAppearances]) -> None:
        """Each video's flag, read by its own key (a change's few videos, not every flag ever set: this runs
        with every video published)."""
        for video in videos:
            record = self.registry.store.get_side("repost", video.video_id)
            video.erased_person_utc = str(record["erased_utc"]) if record else ""

    def resume_corrections(self) -> int:
        """Finishes every correction a kill interrupted (at start): applied again, then every video's
        appearances and the labels of the influencers it named published (a resync); returns how many."""
        with self.registry.lock:
            finished = journal.replay_pending(self.registry.store, self.registry)
            if finished:
                named = sorted({i for _, ids, _ in finished for i in ids})
                self.publish(identity_pb2.CHANGE_KIND_RESYNC, list(self.registry.store.video_ids()),
                             [x for x in self.registry.labels(named)])
            for key, _, audit in finished:
                if audit.get("audit_id"):  # audited once: a copy of an entry published before is not kept twice
                    self.publish(identity_pb2.CHANGE_KIND_CORRECTION, [], audit=self.resumed_entry(audit))
                journal.done(self.registry.store, key)
        return len(finished)

    def resumed_entry(self, planned: dict) -> identity_pb2.AuditEntry:
        """The audit entry of a correction a kill interrupted, from its journal record (`planned`): with its undo
        record's ids, faces and videos when the kill came after that was kept (then it can still be undone),
        else the ids recorded before it ran (then it cannot: what it changed was not kept)."""
        record = self.registry.store.get_side(undo.KIND, str(planned["audit_id"])) or {}
        kept = record.get("entry", {})
        moved = [f for f in record.get("faces", {}).values() if f[0][0] != f[1][0]]
        entry = new_entry(int(planned["action"]), str(planned["actor"]), kept.get("before", planned["before"]),
                          kept.get("after", planned["after"]), self.registry.names(),
                          videos=len({f[2] for f in moved if not f[3]}), faces=len(moved),
                          undoable=bool(record) and not record.get("undone"))
        if entry.action in (identity_pb2.AUDIT_ACTION_RENAME, identity_pb2.AUDIT_ACTION_ENROL) and entry.after_ids:
            named = entry.after_ids[0]
            entry.before_name = str(record.get("names", {}).get(named, [planned.get("before_name", "")])[0])
            entry.after_name = self.registry.names().get(named, "")
        entry.audit_id = str(planned["audit_id"])
        entry.undoes = str(planned.get("undoes", ""))
        if entry.undoes:  # the reverted correction's record stays, marked undone: it names its action
            undone = self.registry.store.get_side(undo.KIND, entry.undoes) or {}
            entry.undoes_action = int(undone.get("entry", {}).get("action", 0))  # type: ignore[assignment]
        return entry

    def resume_erasures(self) -> int:
        """Finishes every erasure a kill interrupted (at start); returns how many."""
        with self.registry.lock:
            interrupted = erasure.pending(self.registry.store)
            for influencer_id, key in interrupted:
                log.warning("finishing an erasure that was interrupted (recorded %s)", key[:8])
                self.erase(influencer_id, key)
        return len(interrupted)


def _planned(audit_id: str, action: int, actor: str, before: list[str], after: list[str], undoes: str = ""
             ) -> dict[str, object]:
    """A correction's audit entry as its journal record keeps it (journal.py)."""
    return {"audit_id": audit_id, "action": int(action), "actor": actor, "before": list(before),
            "after": list(after), "undoes": undoes}
