"""IdentityService over gRPC: translates protos to calls of the registry and the face workers."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import grpc

from influencers.v1 import identity_pb2, identity_pb2_grpc
from services.common import logs, tracing
from services.common.boundary import INFLUENCER_ID, shown
from services.common.damage import DiskFull, room_refusal
from services.common.datadir import ScratchDir
from services.common.metrics import observe_stages
from services.common.paging import items_within, key_token, point_token
from services.common.protoconv import durations, seconds
from services.common.recluster_limits import MAX_RECLUSTER_VIDEOS, MAX_RECLUSTERS, busy_message
from services.common.settings import Settings, env_name
from services.common.spool import Spool, SpoolError
from services.common.stage_clock import CPU_SUFFIX
from services.identity import undo
from services.identity.analyzer import FrameIn, VideoAnalysis
from services.identity.arguments import (
    checked_page_size,
    error_text,
    parsed_token,
    refuse,
    require_id,
    require_influencer,
    require_name,
)
from services.identity.audit import actor_of
from services.identity.change_writer import ChangeWriter, Work
from services.identity.conversions import (
    REVIEW_ANSWERS,
    REVIEW_AUDIT,
    appearance_pb,
    influencer_pb,
    review_item_pb,
)
from services.identity.corrections import NameTaken, checked_name
from services.identity.feed import TooFarBehind
from services.identity.idle_stream import StreamIdle, paced
from services.identity.registry import IdentityRegistry, Label
from services.identity.stream_budget import StreamBudget
from services.identity.workers import FaceWorkers, WorkerDied

log = logging.getLogger(__name__)

MAX_PHOTOS = 10  # reference photos in one EnrolInfluencer call (the page's limit too)
MAX_REVIEW = 100  # items of the review queue in one answer
MAX_MERGE = 1000  # different influencers in one MergeInfluencers call (each is looked up under the lock)
# Different videos in one SplitInfluencer call: each is checked, and the list is kept whole in the journal's
# record under the lock (a side record of ~18 bytes a video): an influencer's every video in the largest stores
MAX_SPLIT = 10_000
MAX_CHANGES = 1000  # changes of the feed in one ListChanges answer
AUDIT_ID_CHARS = 32  # hex digits of an audit id
# AnalyzeVideo streams at once. Each holds a server thread (process.py: SERVER_THREADS) for as long as its caller
# keeps it open, a stalled caller for up to settings.stream_idle_s (_frames): the threads above the caps always answer
# health checks, corrections and reads. Past it: UNAVAILABLE, and ingest gives the row back to run again.
MAX_ANALYSES = 12
# EnrolInfluencer calls at once. Each holds a server thread while its photos are decoded and searched (up to 10,
# seconds each): forty callers left no thread for health checks or any other call for minutes. Past it:
# RESOURCE_EXHAUSTED (the page answers 503 with these words).
MAX_ENROLMENTS = 2


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """Every write runs under the registry's lock together with the append of its change to the feed, so
    that the feed's order is the face store's (a change read after another write would carry a state the
    feed then overwrites with an older one): the corrections, erasures and reclusters through the
    ChangeWriter, a video's analysis and copy here, with the writer's publish."""

    def __init__(self, registry: IdentityRegistry, workers: FaceWorkers, settings: Settings,
                 writer: ChangeWriter, max_analyses: int = MAX_ANALYSES, max_reclusters: int = MAX_RECLUSTERS) -> None:
        """`writer`: publishes the writes of `registry` to the change feed (services/identity/change_writer.py);
        `max_analyses`: AnalyzeVideo streams at once (MAX_ANALYSES); `max_reclusters`: Recluster calls at once
        (services/common/recluster_limits.py)."""
        self.registry = registry
        self.workers = workers
        self.settings = settings
        self.writer = writer
        self.feed = writer.feed
        self.scratch = ScratchDir(settings.data_dir)  # where long videos' frames wait (AnalyzeVideo)
        self.max_analyses = max_analyses
        self._analyses = threading.BoundedSemaphore(max_analyses)
        self._enrolments = threading.BoundedSemaphore(MAX_ENROLMENTS)
        self.max_reclusters = max_reclusters
        self._reclusters = threading.BoundedSemaphore(max_reclusters)

    def ListChanges(self, request: identity_pb2.ListChangesRequest, context: grpc.ServicerContext
                    ) -> identity_pb2.ListChangesResponse:
        if request.after_position < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"after_position {request.after_position} is negative")
        size = checked_page_size(request.page_size or 100, context, MAX_CHANGES)
        try:
            changes, head, at = self.feed.read_page(request.after_position, size)
        except TooFarBehind as exc:
            context.abort(grpc.StatusCode.OUT_OF_RANGE, str(exc))
        changes = changes[:items_within(changes)]  # a follower reads on after the last it was sent
        return identity_pb2.ListChangesResponse(changes=changes, head_position=head, feed_id=self.feed.feed_id,
                                                after_digest=at)

    def AnalyzeVideo(self, request_iterator: Iterator[identity_pb2.AnalyzeVideoRequest], context: grpc.ServicerContext
                     ) -> identity_pb2.AnalyzeVideoResponse:
        if not self._analyses.acquire(blocking=False):  # before any frame is read
            context.abort(grpc.StatusCode.UNAVAILABLE, f"identity is receiving {self.max_analyses} videos at once, "
                                                       "its limit: send this one again in a moment")
        try:
            return self._receive(request_iterator, context)
        finally:
            self._analyses.release()

    def _receive(self, request_iterator: Iterator[identity_pb2.AnalyzeVideoRequest], context: grpc.ServicerContext
                 ) -> identity_pb2.AnalyzeVideoResponse:
        """AnalyzeVideo within its slot: the frames, checked as they arrive, then the analysis."""
        video_id = ""
        budget = StreamBudget(self.settings.max_frame_bytes, self.settings.max_stream_bytes)
        # The frames wait in a spool (a file past settings.spool_memory_bytes) and the worker reads them one at a time:
        # a long video costs disk here, not memory.
        with (Spool(self.scratch.path, self.settings.spool_memory_bytes, self.settings.min_free_bytes) as spool,
              contextlib.closing(self._frames(request_iterator, budget, context)) as frames):
            for frame in frames:
                if not video_id:
                    video_id = frame.video_id
                    require_id(context, video_id, "video_id")
                elif frame.video_id != video_id:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "one AnalyzeVideo stream carries one video")
                if problem := budget.admit(frame):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"video {video_id}: {problem}")
                frame_in = FrameIn(frame.index, seconds(frame.timestamp), frame.shot, seconds(frame.span), frame.image)
                try:
                    self.workers.check(frame_in)  # a frame that is not an image, or too large to decode
                    spool.append(frame_in.record())
                except ValueError as exc:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"video {video_id}: {exc}")
                except SpoolError as exc:
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"video {video_id}: {exc}")
            if not video_id:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no frames (video_id unknown)")
            # Bound for the rest of the call (gRPC runs each in a context of its own), so that its failure's line,
            # written by rpc.py's guard once this code has left, names the video too.
            logs.bind(video_id=video_id)
            return self._analyze(video_id, spool, context)

    def _frames(self, request_iterator: Iterator[identity_pb2.AnalyzeVideoRequest], budget: StreamBudget,
                context: grpc.ServicerContext) -> Iterator[identity_pb2.AnalyzeVideoRequest]:
        """The stream's frames, each within settings.stream_idle_s of the one before (the first, of the call):
        past that, DEADLINE_EXCEEDED naming the limit, and the slot is free. Without it, a caller that opened a
        stream and sent nothing more held its slot and a server thread until its own deadline."""
        idle_s = self.settings.stream_idle_s
        frames = paced(request_iterator, idle_s)
        try:
            yield from frames
        except StreamIdle:
            got = f"{budget.frames} frame{'' if budget.frames == 1 else 's'}"
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no frame for {idle_s:g} s "
                          f"({env_name('stream_idle_s')}) after {got}: the stream is ended; send the video again")
        finally:
            frames.close()

    def _analyze(self, video_id: str, spool: Spool, context: grpc.ServicerContext
                 ) -> identity_pb2.AnalyzeVideoResponse:
        try:
            analysis = self.workers.analyze(spool.reader(), self.settings.within_video_threshold)
        except SpoolError as exc:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"video {video_id}: {exc}")
        except ValueError as exc:  # an image that will not decode after all
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"video {video_id}: {exc}")
        except WorkerDied as exc:  # this video's fault, most likely: it fails, counted; the next ones go on
            context.abort(grpc.StatusCode.INTERNAL, f"video {video_id}: {exc}")
        _phase_spans(analysis)
        with tracing.tracer("identity").start_as_current_span("assign") as span, self.registry.lock:
            t0 = time.perf_counter()
            try:
                appearances = self.registry.assign(video_id, analysis)
                self.writer.note_repost(video_id)
            except DiskFull as exc:  # refused before the engine's mapped write could meet the full disk
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"video {video_id}: {exc}")
            position = self.writer.position(self.writer.publish(identity_pb2.CHANGE_KIND_VIDEO, [video_id]))
            stages = {**analysis.stage_seconds, "assign": time.perf_counter() - t0}
            span.set_attributes({"influencers.video_id": video_id, "influencers.people": len(analysis.people),
                                 "influencers.appearances": len(appearances), "influencers.feed_position": position})
        observe_stages({k: v for k, v in stages.items()
                        if k.removesuffix(CPU_SUFFIX) in ("detect", "encode", "assign")})
        return identity_pb2.AnalyzeVideoResponse(
            feed_position=position,
            video_id=video_id, appearances=[appearance_pb(a) for a in appearances], frames=analysis.frames,
            faces_detected=analysis.faces_detected, faces_encoded=analysis.faces_encoded,
            stage_durations=durations(stages))

    def CopyVideo(self, request: identity_pb2.CopyVideoRequest, context: grpc.ServicerContext
                  ) -> identity_pb2.CopyVideoResponse:
        require_id(context, request.video_id, "video_id")
        require_id(context, request.source_video_id, "source_video_id")
        if request.video_id == request.source_video_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"video_id and source_video_id are one video "
                                                            f"({request.video_id}): a video is no repost of itself")
        with self.registry.lock:
            try:
                appearances = self.registry.copy(request.video_id, request.source_video_id)
            except DiskFull as exc:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"video {request.video_id}: {exc}")
            except LookupError:
                context.abort(grpc.StatusCode.NOT_FOUND, f"video {request.source_video_id} has no faces stored: "
                                                         "analyse the video instead")
            position = self.writer.position(self.writer.publish(identity_pb2.CHANGE_KIND_VIDEO,
                                                                [request.video_id]))
        return identity_pb2.CopyVideoResponse(
            video_id=request.video_id, appearances=[appearance_pb(a) for a in appearances],
            faces_detected=sum(a.faces for a in appearances), feed_position=position)

    def ForgetVideo(self, request: identity_pb2.ForgetVideoRequest, context: grpc.ServicerContext
                    ) -> identity_pb2.ForgetVideoResponse:
        require_id(context, request.video_id, "video_id")
        removed, position = self.writer.forget(request.video_id)
        return identity_pb2.ForgetVideoResponse(faces_removed=removed, feed_position=position)

    def ListVideoIds(self, request: identity_pb2.ListVideoIdsRequest, context: grpc.ServicerContext
                     ) -> identity_pb2.ListVideoIdsResponse:
        size = checked_page_size(request.page_size, context)
        # The token is the store's own scroll offset: anything but a point id is refused here, before the
        # engine answers it with a message of its own internals.
        ids, token = self.registry.video_page(parsed_token(context, point_token, request.page_token), size)
        return identity_pb2.ListVideoIdsResponse(video_ids=ids, next_page_token=token)

    def ListInfluencers(self, request: identity_pb2.ListInfluencersRequest, context: grpc.ServicerContext
                        ) -> identity_pb2.ListInfluencersResponse:
        after = parsed_token(context, lambda t: key_token(t, INFLUENCER_ID), request.page_token)
        page, token = self.registry.influencer_page(after, checked_page_size(request.page_size, context))
        return identity_pb2.ListInfluencersResponse(influencers=[influencer_pb(i) for i in page],
                                                    next_page_token=token)

    def GetInfluencer(self, request: identity_pb2.GetInfluencerRequest, context: grpc.ServicerContext
                      ) -> identity_pb2.GetInfluencerResponse:
        require_influencer(context, request.influencer_id)
        info = self.registry.influencer(request.influencer_id)
        if info is None:
            self._not_found(context, request.influencer_id)
        return identity_pb2.GetInfluencerResponse(
            influencer=influencer_pb(info, self._crop_or_none(info.best_crop) or b""))

    def _not_found(self, context: grpc.ServicerContext, influencer_id: str) -> None:
        """NOT_FOUND for an influencer with no faces; one merged away (by another analyst a moment before, on a
        page still showing it) is still there under the id it joined: say which (an erasure most of all)."""
        joined = ""
        with contextlib.suppress(KeyError):
            joined = self.registry.live_ids([influencer_id])[0]
        where = f": it was merged into {joined}" if joined and joined != influencer_id else ""
        context.abort(grpc.StatusCode.NOT_FOUND, f"no influencer {shown(influencer_id)}{where}")

    def _crop_or_none(self, ref: str) -> bytes | None:
        """The crop of a stored reference; None when it has none (a face kept without a crop)."""
        try:
            return self.registry.crop_bytes(ref) if ref else None
        except ValueError:  # a reference of an older shape: the influencer is still there, without a picture
            log.warning("face crop reference %s is not of the current shape", shown(ref))
            return None

    def GetFaceCrop(self, request: identity_pb2.GetFaceCropRequest, context: grpc.ServicerContext
                    ) -> identity_pb2.GetFaceCropResponse:
        try:
            jpeg = self.registry.crop_bytes(request.face_ref)
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"face_ref {shown(request.face_ref)} is not a face "
                                                            "reference (VIDEO-PERSON.jpg)")
        if jpeg is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no face crop {shown(request.face_ref)}")
        return identity_pb2.GetFaceCropResponse(jpeg=jpeg)

    def Recluster(self, request: identity_pb2.ReclusterRequest, context: grpc.ServicerContext
                  ) -> Iterator[identity_pb2.ReclusterResponse]:
        videos = list(dict.fromkeys(request.video_ids))
        if len(videos) > MAX_RECLUSTER_VIDEOS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"video_ids: {len(videos):,} videos: one Recluster takes at most {MAX_RECLUSTER_VIDEOS:,} "
                          "(call it for each part)")
        for v in videos:
            require_id(context, v, "video_id")
        if not self._reclusters.acquire(blocking=False):  # before the registry's lock: no thread waits for it here
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, busy_message(self.max_reclusters))
        release = _once(self._reclusters.release)
        # The slot comes back when the call ends, however: a caller that cancels a stream mid-way leaves this
        # generator suspended at a page, and its `finally` ran only once gRPC let go of it (kept the slot meanwhile).
        if not context.add_callback(release):
            release()  # the call ended already
            return
        try:
            # A caller gone (cancelled, past its deadline) while this call waits for the registry's lock stops it
            # there, nothing reclustered: before, it kept its slot until the others let it run its work.
            gone = lambda: not context.is_active()  # noqa: E731
            if request.resync_only and not request.publish:
                pages: Iterable[identity_pb2.Changes] = self.writer.snapshot(gone)
            else:
                pages = self.writer.recluster(videos or None, request.resync_only, gone)
            yield from (identity_pb2.ReclusterResponse(changes=_m) for _m in pages)
        finally:
            release()

    def _correct(self, work: Work, context: grpc.ServicerContext, action: int,
                 involved: list[str] | Callable[[], list[str]],
                 ids: Callable[[dict | None], tuple[list[str], list[str]]] | None = None,
                 journal_entry: tuple[str, dict[str, object]] | None = None) -> identity_pb2.Changes:
        """ChangeWriter.correct (which says what the arguments are) for the caller of `context`, its actor.
        A full disk is RESOURCE_EXHAUSTED (services/common/rpc.py) wherever the correction meets it: its
        journal record (then nothing is written), its work (nothing applied; the writer removes the record),
        or its undo record after the work (the journal record stays, and the next start finishes it)."""
        actor = actor_of(context.invocation_metadata(), bool(self.settings.token))
        return self.writer.correct(work, actor, action, involved, ids=ids, journal_entry=journal_entry)

    def OpenBatch(self, request: identity_pb2.OpenBatchRequest, context: grpc.ServicerContext
                  ) -> identity_pb2.OpenBatchResponse:
        require_name(context, request.worker, "worker")
        require_name(context, request.batch, "batch")
        interrupted = self.registry.open_batch(request.batch, request.worker)  # a full disk: rpc.py's status
        return identity_pb2.OpenBatchResponse(previous_interrupted=interrupted)

    def CloseBatch(self, request: identity_pb2.CloseBatchRequest, context: grpc.ServicerContext
                   ) -> identity_pb2.CloseBatchResponse:
        require_name(context, request.worker, "worker")
        self.registry.close_batch(request.worker)
        return identity_pb2.CloseBatchResponse()

    def MergeInfluencers(self, request: identity_pb2.MergeInfluencersRequest, context: grpc.ServicerContext
                         ) -> identity_pb2.MergeInfluencersResponse:
        ids = list(dict.fromkeys(request.influencer_ids))
        if len(ids) > MAX_MERGE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"{len(ids)} influencers: one merge takes at most {MAX_MERGE}")
        for influencer_id in ids:
            require_influencer(context, influencer_id)
        live: list[str] = []  # what the ids stand for when the merge runs (one merged away before: who it joined)
        recorded: dict[str, object] = {"ids": ids, "live": live}  # the journal's record: a replay names both

        def involved() -> list[str]:
            try:
                live[:] = self.registry.live_ids(ids)
            except KeyError as exc:
                refuse(context, exc)
            return list(dict.fromkeys([*ids, *live]))

        def work() -> tuple[list[str], list[Label]]:
            try:
                changed = self.registry.merge(ids)
            except (KeyError, ValueError) as exc:
                refuse(context, exc)
            # Every id given and every one it stood for: a name or hidden flag that left with a merged-away
            # influencer's faces is published too, or analytics would keep it.
            return changed, self.registry.labels([*ids, *live])

        def before_after(_: dict | None) -> tuple[list[str], list[str]]:
            if len(live) > 1:
                return live[1:], live[:1]
            if live:  # every id stands for one influencer already (merged before): the others joined that one
                return [i for i in ids if i != live[0]], live
            return ids[1:], ids[:1]
        return identity_pb2.MergeInfluencersResponse(changes=self._correct(
            work, context, identity_pb2.AUDIT_ACTION_MERGE, involved, ids=before_after,
            journal_entry=("merge", recorded)))

    def SplitInfluencer(self, request: identity_pb2.SplitInfluencerRequest, context: grpc.ServicerContext
                        ) -> identity_pb2.SplitInfluencerResponse:
        require_influencer(context, request.influencer_id)
        videos = list(dict.fromkeys(request.video_ids))
        if len(videos) > MAX_SPLIT:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"video_ids: {len(videos):,} videos: one split takes at most {MAX_SPLIT:,}")
        for v in videos:
            require_id(context, v, "video_id")
        source = request.influencer_id
        recorded: dict[str, object] = {"id": source, "videos": videos, "target": ""}  # the journal's record

        def involved() -> list[str]:  # the new influencer's id, chosen under the lock before the journal's record
            try:
                recorded["target"] = self.registry.split_target(source, videos)
            except KeyError as exc:
                context.abort(grpc.StatusCode.NOT_FOUND, error_text(exc))
            return [source]

        def work() -> tuple[list[str], list[Label]]:
            return self.registry.split(source, videos, str(recorded["target"])), self.registry.labels([source])
        return identity_pb2.SplitInfluencerResponse(changes=self._correct(
            work, context, identity_pb2.AUDIT_ACTION_SPLIT, involved,
            ids=lambda _: ([source], [source, str(recorded["target"])]), journal_entry=("split", recorded)))

    def RenameInfluencer(self, request: identity_pb2.RenameInfluencerRequest, context: grpc.ServicerContext
                         ) -> identity_pb2.RenameInfluencerResponse:
        require_influencer(context, request.influencer_id)
        try:
            name = checked_name(request.name)
        except ValueError as exc:
            refuse(context, exc)
        found = self.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=request.influencer_id), context)
        if name == found.influencer.name:  # the name it has, or "" for someone unnamed: no correction, no audit
            # with the feed's head, as every correction that changes nothing answers: was 0, and a caller waiting
            # for analytics to have the name (given a moment before from another page) waited for nothing
            found.influencer.feed_position = self.writer.feed.head()
            return identity_pb2.RenameInfluencerResponse(influencer=found.influencer)

        def work() -> tuple[list[str], list[Label]]:
            try:
                self.registry.rename(request.influencer_id, request.name)
            except (KeyError, ValueError) as exc:
                refuse(context, exc)
            return [], self.registry.labels([request.influencer_id])
        changes = self._correct(work, context, identity_pb2.AUDIT_ACTION_RENAME, [request.influencer_id],
                                journal_entry=("rename", {"id": request.influencer_id, "name": request.name}))
        found = self.GetInfluencer(identity_pb2.GetInfluencerRequest(influencer_id=request.influencer_id), context)
        reply = found.influencer
        reply.feed_position = changes.feed_position
        return identity_pb2.RenameInfluencerResponse(influencer=reply, audit=changes.audit)

    # ---- corrections kept as constraints, and the review queue ------------------------------------------

    def EnrolInfluencer(self, request: identity_pb2.EnrolInfluencerRequest, context: grpc.ServicerContext
                        ) -> identity_pb2.EnrolInfluencerResponse:
        name = request.name.strip()
        if not name:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "enrolling needs a name")
        try:  # before any photo is decoded (seconds each): was checked only under the writer's lock, after them all
            checked_name(name)
        except ValueError as exc:
            refuse(context, exc)
        if not request.photos or len(request.photos) > MAX_PHOTOS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"{len(request.photos)} photos: enrolling takes 1 to {MAX_PHOTOS}")
        if not self._enrolments.acquire(blocking=False):  # before any photo is decoded
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"identity is enrolling {MAX_ENROLMENTS} people at once, "
                                                              "its limit: send this enrolment again in a moment")
        try:
            return self._enrol(name, request, context)
        finally:
            self._enrolments.release()

    def _enrol(self, name: str, request: identity_pb2.EnrolInfluencerRequest, context: grpc.ServicerContext
               ) -> identity_pb2.EnrolInfluencerResponse:
        """EnrolInfluencer within its slot: the photos' faces, then the correction."""
        photos: dict[str, object] = {}
        without: list[int] = []
        faces: list[int] = []  # found in each photo: over 1, only the largest is enrolled (the caller says so)
        for k, image in enumerate(request.photos):
            try:
                encoding, found = self.workers.encode_largest(image)
            except ValueError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"photo {k}: {error_text(exc)}")
            faces.append(found)
            if encoding is None:
                without.append(k)
            else:  # the photo's id is derived from its bytes: the name never becomes a key or a path
                photos.setdefault(hashlib.sha256(image).hexdigest()[:16], encoding)
        if not photos:
            given = "the photo given" if len(request.photos) == 1 else f"any of the {len(request.photos)} photos given"
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no face found in {given}")
        enrolled: list[str] = []

        def work() -> tuple[list[str], list[Label]]:
            try:
                target, changed = self.registry.enrol(name, list(photos.items()))  # type: ignore[arg-type]
            except NameTaken as exc:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, error_text(exc))
            except ValueError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, error_text(exc))
            enrolled.append(target)
            return changed, self.registry.labels([target])
        changes = self._correct(work, context, identity_pb2.AUDIT_ACTION_ENROL, [],
                                ids=lambda _: ([], enrolled[:1]), journal_entry=("enrol", {
                                    "name": name, "photos": [[k, [float(x) for x in v]] for k, v in photos.items()]}))
        info = self.registry.influencer(enrolled[0])
        return identity_pb2.EnrolInfluencerResponse(
            influencer=influencer_pb(info) if info else None, faces_enrolled=len(photos),
            photos_without_face=without, changes=changes, faces_per_photo=faces)

    def MoveAppearance(self, request: identity_pb2.MoveAppearanceRequest, context: grpc.ServicerContext
                       ) -> identity_pb2.MoveAppearanceResponse:
        require_id(context, request.video_id, "video_id")
        require_influencer(context, request.influencer_id)
        if request.target_influencer_id:
            require_influencer(context, request.target_influencer_id, "target_influencer_id")
        def work() -> tuple[list[str], list[Label]]:
            try:
                changed, target = self.registry.move(request.video_id, request.influencer_id,
                                                     request.target_influencer_id)
            except (KeyError, ValueError) as exc:
                refuse(context, exc)
            moved_to.append(target)
            return changed, self.registry.labels([request.influencer_id, target])
        moved_to: list[str] = []
        source = request.influencer_id
        recorded: dict[str, object] = {"video": request.video_id, "id": source,
                                       "target": request.target_influencer_id, "chosen": request.target_influencer_id}

        def involved() -> list[str]:  # a new influencer's id, chosen before the journal's record (as a split's)
            if not request.target_influencer_id:
                with contextlib.suppress(KeyError):  # no appearance there: work refuses, saying so
                    recorded["chosen"] = self.registry.split_target(source, [request.video_id])
            return [source, request.target_influencer_id]

        def before_after(_: dict | None) -> tuple[list[str], list[str]]:
            return [source], [i for i in moved_to[:1] or [str(recorded["chosen"])] if i]
        return identity_pb2.MoveAppearanceResponse(changes=self._correct(
            work, context, identity_pb2.AUDIT_ACTION_MOVE, involved, ids=before_after,
            journal_entry=("move", recorded)))

    def HideInfluencer(self, request: identity_pb2.HideInfluencerRequest, context: grpc.ServicerContext
                       ) -> identity_pb2.HideInfluencerResponse:
        require_influencer(context, request.influencer_id)
        def work() -> tuple[list[str], list[Label]]:
            try:
                self.registry.hide(request.influencer_id, request.hidden)
            except KeyError as exc:
                context.abort(grpc.StatusCode.NOT_FOUND, error_text(exc))
            return [], self.registry.labels([request.influencer_id])
        action = identity_pb2.AUDIT_ACTION_HIDE if request.hidden else identity_pb2.AUDIT_ACTION_UNHIDE
        return identity_pb2.HideInfluencerResponse(changes=self._correct(
            work, context, action, [request.influencer_id],
            journal_entry=("hide", {"id": request.influencer_id, "hidden": request.hidden})))

    def DeleteInfluencer(self, request: identity_pb2.DeleteInfluencerRequest, context: grpc.ServicerContext
                         ) -> identity_pb2.DeleteInfluencerResponse:
        """Erases a person (see ChangeWriter.erase). Repeating it is safe: an erasure a kill interrupted is
        finished, and one already finished answers OK (already_erased) and publishes the erasure again, so that
        analytics converges even if it missed it; only an id never stored nor erased is NOT_FOUND."""
        require_influencer(context, request.influencer_id)
        influencer_id = request.influencer_id
        actor = actor_of(context.invocation_metadata(), bool(self.settings.token))
        erased = self.writer.delete(influencer_id, actor)
        if erased is None:
            self._not_found(context, influencer_id)
        reply, already_erased = erased
        return identity_pb2.DeleteInfluencerResponse(changes=reply, already_erased=already_erased)

    def ListReviewItems(self, request: identity_pb2.ListReviewItemsRequest, context: grpc.ServicerContext
                        ) -> identity_pb2.ListReviewItemsResponse:
        floor = self.settings.review_floor
        size = checked_page_size(request.page_size, context, MAX_REVIEW)
        found = self.registry.review_queue(self.settings.review_band, floor, size, request.include_unlikely)
        return identity_pb2.ListReviewItemsResponse(items=[review_item_pb(i) for i in found.items],
                                                    likely=found.likely, unlikely=found.unlikely, floor=floor)

    def AnswerReviewItem(self, request: identity_pb2.AnswerReviewItemRequest, context: grpc.ServicerContext
                         ) -> identity_pb2.AnswerReviewItemResponse:
        require_influencer(context, request.influencer_a, "influencer_a")
        require_influencer(context, request.influencer_b, "influencer_b")
        reply = REVIEW_ANSWERS.get(request.answer)
        if reply is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"answer {request.answer} is not one of SAME, DIFFERENT or SKIP")
        def work() -> tuple[list[str], list[Label]]:
            try:
                changed = self.registry.answer(request.influencer_a, request.influencer_b, reply)
            except (KeyError, ValueError) as exc:
                refuse(context, exc)
            return changed, self.registry.labels([request.influencer_a, request.influencer_b])
        pair = [request.influencer_a, request.influencer_b]
        live: list[str] = []  # what the pair stands for when the answer runs (one merged away before: who it joined)

        def involved() -> list[str]:
            with contextlib.suppress(KeyError):  # an unknown id: the answer itself refuses it, naming it
                live[:] = self.registry.live_ids(pair)
            return pair

        def ids(record: dict | None) -> tuple[list[str], list[str]]:
            if request.answer != identity_pb2.REVIEW_ANSWER_SAME or not record:
                return pair, pair
            # The one the other's faces went to; none moved (the two were one already): the one they are.
            survivor = undo.targets(record)[:1] or (live if len(live) == 1 else pair[:1])
            return [i for i in pair if i not in survivor], survivor
        return identity_pb2.AnswerReviewItemResponse(changes=self._correct(
            work, context, REVIEW_AUDIT[request.answer], involved, ids=ids, journal_entry=(
                "answer", {"a": request.influencer_a, "b": request.influencer_b, "reply": reply})))

    def GetRoom(self, request: identity_pb2.GetRoomRequest, context: grpc.ServicerContext
                ) -> identity_pb2.GetRoomResponse:
        """Whether the face store's disk and the data dir's (the feed's SQLite, the frame spool) have room: what
        ingest watches, once a write here met a full disk, to go on as soon as space is freed."""
        folders = [f for f in (self.registry.store.room_folder(), self.settings.data_dir) if f is not None]
        refusal = room_refusal(folders, self.settings.min_free_bytes, "writing")
        return identity_pb2.GetRoomResponse(has_room=not refusal, refusal=refusal)

    def UndoCorrection(self, request: identity_pb2.UndoCorrectionRequest, context: grpc.ServicerContext
                       ) -> identity_pb2.UndoCorrectionResponse:
        audit_id = request.audit_id
        if len(audit_id) != AUDIT_ID_CHARS or any(c not in "0123456789abcdef" for c in audit_id):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"audit_id {shown(audit_id)} is not an audit id ({AUDIT_ID_CHARS} lowercase hex digits)")
        actor = actor_of(context.invocation_metadata(), bool(self.settings.token))
        try:
            reply = self.writer.undo(audit_id, actor)
        except KeyError as exc:
            context.abort(grpc.StatusCode.NOT_FOUND, error_text(exc))
        except undo.Conflict as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, error_text(exc))
        return identity_pb2.UndoCorrectionResponse(changes=reply)


def _phase_spans(analysis: VideoAnalysis) -> None:
    """The phases a worker process timed (detect, encode, group) as child spans of the AnalyzeVideo span."""
    counts = {"detect": {"influencers.frames": analysis.frames, "influencers.faces_detected": analysis.faces_detected},
              "encode": {"influencers.faces_encoded": analysis.faces_encoded},
              "group": {"influencers.people": len(analysis.people)}}
    for name, (start, end) in analysis.phases.items():
        tracing.record_span("identity", name, start, end, counts.get(name))


def _once(call: Callable[[], object]) -> Callable[[], None]:
    """`call`, run at most once however many times (and from however many threads) the result is called."""
    done = threading.Lock()

    def run() -> None:
        if done.acquire(blocking=False):
            call()
    return run
