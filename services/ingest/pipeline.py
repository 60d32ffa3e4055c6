"""One manifest row through the system: fetch, dedupe by location and content, decode and sample, stream
the frames to identity, record the outcome with analytics. Every failure is recorded against its row.

A row's identity is where its bytes come from and what they are, never the manifest's spelling alone:
a local path is resolved against the manifest's folder (`a.mp4` in two folders is two rows), an http(s)
URL is taken as given, and the content id (SHA-256) dedupes the same bytes under any location. A local
row already processed is hashed again, so a file replaced in place is processed again; an http(s) row
already processed is not downloaded again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from opentelemetry.trace import Span

from influencers.v1 import analytics_pb2, analytics_pb2_grpc, common_pb2, identity_pb2, identity_pb2_grpc
from services.common import tracing
from services.common.call_names import failed_call
from services.common.damage import DISK_FULL, DiskFull
from services.common.database import database_unreachable
from services.common.datadir import ScratchDir, data_dir_hidden
from services.common.location_key import location_key
from services.common.protoconv import duration, seconds_by_key
from services.common.settings import Settings
from services.common.spool import SpoolError, SpoolReader, removed_after
from services.common.url_secrets import path_link_keyed, secrets_hidden
from services.ingest.decoders import Decoders
from services.ingest.decoding import Decoded, DecodeOrder
from services.ingest.fetch import Fetched, FetchError, FetchPolicy, fetch, is_remote, local_path, shown_url
from services.ingest.kept_downloads import KeptDownloads
from services.ingest.netguard import has_scheme
from services.ingest.repost_store import RepostStore
from services.ingest.signature import Signature, is_repost, signature
from services.ingest.stream_digest import CodedStream, coded_stream
from services.ingest.video import VideoError

log = logging.getLogger(__name__)
ST = common_pb2


def resolve_location(url: str, base_dir: Path) -> str:
    """Where a manifest URL's bytes are read, as fetch() reads them, keyed as analytics keys it
    (services/common/location_key.py: its secrets digested, a location past 1 KiB shortened): an http(s) URL as
    given (a signature, token, path token or password as its digest); a local path or `file:` URL made absolute
    against `base_dir` (the manifest's folder) and resolved (`..`, symlinks). Other schemes come back as given,
    their secrets digested (fetch refuses them). A path that cannot be resolved (a NUL byte, `~user` of an
    unknown user, a symlink loop) raises FetchError naming it, as fetch() would."""
    scheme = has_scheme(url)
    if is_remote(url) or (scheme is not None and scheme != "file"):
        return location_key(url)
    # A link without its scheme (refused by fetch) keeps the key of the path it was read as, its secrets digested.
    return location_key(path_link_keyed(str(local_path(url, base_dir)), url))


def one_line(text: str) -> str:
    """`text` with its line breaks (and the blanks around them) turned into single spaces."""
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


KEPT = "the previous result is kept"
WARNING = "warning: "  # starts the error text of a done row whose result may be partial (a truncated file) or odd
ROW_NOTED = "video read where players differ"  # the log line of a done row's VideoInfo.note (an odd display matrix)
NOT_RECORDED = " (not recorded: "  # in a failed row's error: its record was refused, and why
RESULT = (ST.VIDEO_STATUS_DONE, ST.VIDEO_STATUS_DUPLICATE)  # statuses of a row that has a result


@dataclass
class Outcome:
    video: common_pb2.Video
    appearances: list[common_pb2.Appearance] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    recorded: bool = True
    already_counted: bool = False  # counted by an earlier submission: nothing analysed or recorded again
    # Counted before with another score, which this row's replaced: the summary names the video, old -> new.
    score_changed: bool = False
    previous_performance: float | None = None  # the score it had (None: it had none)


class InFlight:
    """Content ids being processed right now, so that two rows with the same bytes run once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def claim(self, video_id: str) -> threading.Event | None:
        """None: the caller owns `video_id` and must call release(); otherwise an event to wait on."""
        with self._lock:
            if video_id in self._events:
                return self._events[video_id]
            self._events[video_id] = threading.Event()
            return None

    def release(self, video_id: str) -> None:
        with self._lock:
            self._events.pop(video_id).set()


class VideoPipeline:
    def __init__(self, settings: Settings, identity: identity_pb2_grpc.IdentityServiceStub,
                 analytics: analytics_pb2_grpc.AnalyticsServiceStub, reposts: RepostStore | None = None) -> None:
        """`reposts`: the signatures of analysed videos, to recognise a repost before its faces are analysed
        (None, or settings.early_reposts false: every video is analysed)."""
        self.settings = settings
        self.reposts = reposts if settings.early_reposts else None
        self.identity = identity
        self.analytics = analytics
        self.in_flight = InFlight()
        self.timeout = settings.rpc_timeout_s
        root = Path(settings.allowed_root).resolve() if settings.allowed_root else None
        # Downloads live under the data dir, in a folder of this process's own (the leftovers of a killed
        # process are removed here, at start), never in /tmp where nothing would clean them up.
        self.scratch = ScratchDir(settings.data_dir)
        if self.scratch.swept:
            log.info("removed %d download folder(s) left by stopped processes", self.scratch.swept)
        # One decoder process for each row thread of the job queue (IngestProcess: worker_count + 1).
        self.decoders = Decoders(settings.worker_count + 1)
        self.policy = FetchPolicy(settings.max_video_bytes, settings.fetch_timeout_s, settings.allow_private_urls,
                                  root, tmp_dir=self.scratch.path, min_free_bytes=settings.min_free_bytes)
        # Whole downloads of rows given back (a full disk, a service unreachable), for their next try (a row thread's
        # one at most).
        self.kept = KeptDownloads(settings.worker_count + 1)

    def close(self) -> None:
        """Stops the decoder processes and removes this process's download folder (and what is still in it)."""
        self.decoders.close()
        self.kept.close()
        self.scratch.close()

    def _known(self, **key: str) -> common_pb2.Video | None:
        """The recorded row or video by one key (url, location or video_id); None when not recorded."""
        try:
            return self.analytics.GetVideo(analytics_pb2.GetVideoRequest(**key), timeout=self.timeout).video
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def _record(self, video: common_pb2.Video, appearances: list[common_pb2.Appearance]) -> None:
        """Records the manifest row's outcome; `appearances` are not sent: analytics takes them from identity's
        change feed (AnalyzeVideo published them)."""
        self.analytics.RecordVideo(analytics_pb2.RecordVideoRequest(video=video), timeout=self.timeout)

    def process(self, url: str, performance: float | None, external_id: str, row_error: str,
                base_dir: Path, on_video_id: Callable[[str], None] | None = None, repeats: int = 0,
                row_key: str = "", kept_apart: bool = False) -> Outcome:
        """Runs one manifest row; never raises for a failure of this row (Exception): the row fails with
        a one-line error naming its URL, is recorded, and the batch goes on. Identity or analytics unreachable
        (UNAVAILABLE: a restart, a rolling update) is no failure of the row, nor is ingest's own PostgreSQL
        gone (database_unreachable): that error is raised, and the job queue gives the row back to be run again.
        A full disk met while the row runs is no failure of the row either: DiskFull is raised, and the row given
        back waits for room (the job stalls, Job.stalled).
        `on_video_id` hears the video's content id once it is known, before anything reaches identity (a
        replacement attempt forgets it).
        `repeats`: later rows of the submission with this URL (Video.repeats), recorded with the row.
        `url` is fetched as given; the row is recorded and shown with its secrets hidden (url_secrets).
        `row_key`: the row's manifest_row_key (services/common/row_keys.py), under which a row without URL is
        recorded failed (it names no location to key it by), and so is a failing row `kept_apart`
        (VideoSubmission.kept_apart: another row of its submission is recorded at the file it names)."""
        video = common_pb2.Video(url=secrets_hidden(url), external_id=external_id, repeats=repeats,
                                 location=row_key if (kept_apart and row_error) or not url else "")
        if performance is not None:
            video.performance = performance
        unexpected: Exception | None = None
        try:
            return self._process(url, video, row_error, base_dir, on_video_id)
        except FetchError as exc:
            video.error = str(exc)
        except (VideoError, SpoolError) as exc:
            video.error = f"{shown_url(url)}: {exc}"
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise
            video.error = f"{shown_url(url)}: {self._failed_call(exc)}"
        except Exception as exc:  # any failure of one video fails its row (recorded below), not the batch
            if database_unreachable(exc):
                raise
            unexpected = exc
            video.error = f"{shown_url(url)}: {type(exc).__name__}: {exc}"
        video.status = ST.VIDEO_STATUS_FAILED
        video.error = one_line(video.error)
        reason = video.error.removeprefix(shown_url(url)).removeprefix(video.url)  # as the job queue reads it
        if not row_error and (at := reason.find(DISK_FULL)) >= 0:
            # The disk filled under the row (identity's face store, analytics' database, the download): no fault of
            # the row. Raised, it goes back to the queue, neither failed nor counted, and runs once there is room.
            raise DiskFull(_full_disk_said(reason, at))
        outcome = self._failed(video)
        # The row's one log line: its reason (and whether it was recorded), a traceback when unexpected.
        log.warning("video failed", extra={"reason": video.error}, exc_info=unexpected)
        return outcome

    def _failed_call(self, exc: grpc.RpcError) -> str:
        """A service's refusal as a row shows it: the service and call named ("identity.AnalyzeVideo failed:
        INTERNAL ..."), the data dir the services share written DATA (a row is read by analysts, on the page
        and in videos.csv: a damaged store or a full disk says which of its folders, not where the server
        keeps it)."""
        return data_dir_hidden(failed_call(exc), self.settings.data_dir)

    def _failed(self, video: common_pb2.Video) -> Outcome:
        """Records a failed row (under its manifest row key when it has no URL; without that key either, it has
        nothing to key a record on and the progress alone says why)."""
        if not video.url and not video.location:
            return Outcome(video, recorded=False)
        try:
            self._record(video, [])
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise  # analytics restarting: the row is given back and fails again, recorded, once it answers
            video.error += f"{NOT_RECORDED}{self._failed_call(exc)})"
            return Outcome(video, recorded=False)
        return Outcome(video)

    def _process(self, url: str, video: common_pb2.Video, row_error: str, base_dir: Path,
                 on_video_id: Callable[[str], None] | None = None) -> Outcome:
        if url and not video.location:
            video.location = resolve_location(url, base_dir)
        elif not url and not row_error:
            row_error = "video URL is missing"
        if row_error:
            # A full disk that kept the row's batch from opening names the folder in identity's words: DATA here.
            row_error = data_dir_hidden(row_error, self.settings.data_dir)
            kept = bool(video.location) and self._has_result(video.location)
            raise FetchError((f"{shown_url(url)}: {row_error}" if url else row_error) + (f" ({KEPT})" if kept else ""))
        known = self._known(location=video.location)
        fetched: Fetched | None = None
        if known is not None and known.status in RESULT:
            if is_remote(url):
                self.kept.drop(url)  # recorded meanwhile (another replica took the row): its bytes are not needed
                return self._seen_again(video, known)
            with _span("fetch"):
                fetched = fetch(url, base_dir, self.policy)  # a local file is hashed again: same bytes?
            if fetched.video_id == known.video_id:
                fetched.release()
                return self._seen_again(video, known)
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        if fetched is None and is_remote(url):
            fetched = self.kept.take(url)  # downloaded whole by this row's try given back (_goes_back)
        if fetched is None:
            with _span("fetch"):
                fetched = fetch(url, base_dir, self.policy)
        stages["fetch"] = time.perf_counter() - t0
        video.video_id = fetched.video_id
        kept = False
        try:
            if on_video_id is not None:
                on_video_id(video.video_id)
            while (wait := self.in_flight.claim(video.video_id)) is not None:
                wait.wait()
            try:
                same = self._known(video_id=video.video_id)
                if same is not None and same.status == ST.VIDEO_STATUS_DONE:
                    return self._same_bytes(video, same, stages)
                try:
                    return self._analyse(video, fetched.path, stages)
                except VideoError as exc:
                    if not fetched.encoding:
                        raise
                    raise VideoError(f"{exc}: the server sent it compressed (Content-Encoding: {fetched.encoding}; "
                                     f"only gzip and deflate are decoded), where the URL must give the video file "
                                     f"itself") from exc
            finally:
                self.in_flight.release(video.video_id)
        except Exception as exc:
            if fetched.temporary and _goes_back(exc):
                # The row goes back to the queue (process raises) and is tried again, every 1 to 30 s, until there
                # is room or the service answers: each try downloaded the video again. Its next try here takes these
                # bytes.
                self.kept.keep(url, fetched)
                kept = True
            raise
        finally:
            if not kept:
                fetched.release()

    def _has_result(self, location: str) -> bool:
        """Whether the row at `location` has a result a failed rerun keeps (False when unsure)."""
        try:
            known = self._known(location=location)
        except grpc.RpcError:
            return False
        return known is not None and known.status in RESULT

    def _seen_again(self, video: common_pb2.Video, known: common_pb2.Video) -> Outcome:
        """A row already counted: a re-submitted manifest changes nothing but a changed score (and clears
        the error a failed rerun noted on it)."""
        changed = video.HasField("performance") and (
            not known.HasField("performance") or abs(known.performance - video.performance) > 1e-12)
        noted = known.status == ST.VIDEO_STATUS_DONE and bool(known.error) and not known.error.startswith(WARNING)
        previous = known.performance if known.HasField("performance") else None
        if video.HasField("performance") and (changed or noted):
            self.analytics.UpdatePerformance(analytics_pb2.UpdatePerformanceRequest(
                url=video.url, location=video.location, performance=video.performance), timeout=self.timeout)
            known.performance = video.performance
            if noted:
                known.error = ""
        if video.repeats > known.repeats:
            # This submission lists the URL more times than any before: the report's duplicate rows follow.
            known.repeats = video.repeats
            self._record(known, [])
        # A duplicate row's score never counted (its video's does): only a counted video's change is news.
        counted = changed and known.status == ST.VIDEO_STATUS_DONE
        return Outcome(known, recorded=False, already_counted=True, score_changed=counted,
                       previous_performance=previous if counted else None)

    def _same_bytes(self, video: common_pb2.Video, same: common_pb2.Video, stages: dict[str, float]) -> Outcome:
        """These bytes are already done under `same`."""
        video.duration.CopyFrom(same.duration)
        video.start.CopyFrom(same.start)
        video.faces = same.faces
        if same.location == video.location:
            # This file, recorded by another row while this one waited for its bytes (the same manifest, or one
            # with a corrected score, submitted again while the first job ran): seen again, as it would have been
            # a moment later, its score followed. It was a duplicate "same file as" itself, its score lost.
            return self._seen_again(video, same)
        video.status = ST.VIDEO_STATUS_DUPLICATE
        video.error = f"same video as {same.url}{_other_score(video, same)}"
        self._record(video, [])
        if same.url == video.url and same.location == same.url:
            # This very row, recorded before locations were kept: the store moved it to its location.
            return self._seen_again(video, self._known(location=video.location) or same)
        return Outcome(video, stage_seconds=stages)

    def _analyse(self, video: common_pb2.Video, path: Path, stages: dict[str, float]) -> Outcome:
        digest: str | None = None
        legacies: tuple[str, ...] = ()
        if self.reposts is not None:
            t0 = time.perf_counter()
            with _span("stream_digest"):
                coded = coded_stream(path)
            digest, legacies = coded.digest, coded.legacies()
            if digest is not None:  # a remux of an analysed stream may put its first frame elsewhere on a timeline
                video.start.CopyFrom(duration(coded.start_s))
            copied = self._same_stream(video, digest, stages, coded.note) if digest is not None else None
            if copied is None and digest is not None and legacies and coded.stated_s and not coded.hides:
                copied = self._stated_before(video, coded, stages)
            stages["repost"] = time.perf_counter() - t0
            if copied is not None:
                return copied
        t0 = time.perf_counter()
        decoded = self._decode(video, path)
        with removed_after(decoded.frames) as records:
            info, times, prints = decoded.info, decoded.times, decoded.prints
            stages["decode"] = time.perf_counter() - t0
            video.duration.CopyFrom(duration(info.duration_s))  # known once every frame is decoded (the loop above)
            video.start.CopyFrom(duration(info.start_s))
            said = "; ".join(filter(None, [info.warning, info.note]))
            if said:  # done, with what was decoded; the row says why it may be short, or how it was read
                video.error = one_line(f"{WARNING}{said}")
            if info.note:
                log.warning(ROW_NOTED, extra={"url": shown_url(video.url), "reason": info.note})
            look = None
            if self.reposts is not None and not info.warning:  # a cut-short file's frames say little of the video
                t0 = time.perf_counter()
                copied = (self._digested_before(video, digest, legacies, info.duration_s, info.fps, stages)
                          if digest is not None and legacies else None)
                look = signature(info.duration_s, times, prints)
                if copied is None and look is not None:
                    copied = self._copied(video, look, stages)
                stages["repost"] = stages.get("repost", 0.0) + time.perf_counter() - t0
                if copied is not None:
                    return copied
            t0 = time.perf_counter()
            frames = _FramesOf(records)
            try:
                result = self.identity.AnalyzeVideo(frames, timeout=self.timeout)
            finally:
                frames.close()  # a call ended early (a refusal, its deadline) leaves the spool file open otherwise
            stages["identity"] = time.perf_counter() - t0
        for stage, secs in seconds_by_key(result.stage_durations).items():
            stages[f"identity.{stage}"] = secs
        video.faces = result.faces_detected
        video.status = ST.VIDEO_STATUS_DONE
        appearances = list(result.appearances)
        if self.reposts is not None:
            if look is not None:
                self.reposts.remember(video.video_id, look)
            if digest is not None and not info.warning:
                self.reposts.remember_digest(video.video_id, digest, info.duration_s)
        t0 = time.perf_counter()
        self._record(video, appearances)
        stages["record"] = time.perf_counter() - t0
        return Outcome(video, appearances, stages)

    def _decode(self, video: common_pb2.Video, path: Path) -> Decoded:
        """The video decoded and sampled in a decoder process (services/ingest/decoders.py): a file that crashes
        the decoder fails its row, never ingest."""
        s = self.settings
        order = DecodeOrder(video.video_id, path, s.sample_interval_s, s.max_video_seconds, self.scratch.path,
                            s.spool_memory_bytes, s.min_free_bytes, prints=self.reposts is not None)
        with _span("decode") as span:
            decoded = self.decoders.decode(order, decode_timeout_s(s.max_video_seconds))
            span.set_attribute("influencers.frames", len(decoded.frames))
        return decoded

    def _same_stream(self, video: common_pb2.Video, digest: str, stages: dict[str, float],
                     note: str = "") -> Outcome | None:
        """The row done as a repost of an analysed video with the very same coded pictures (a remux: no
        decoding at all), or None when there is none. `note`: the stream's VideoInfo.note (CodedStream.note), which
        the copy's row and log say as its source's did (was: said by the source's row alone)."""
        assert self.reposts is not None
        for source_id, duration_s in self.reposts.same_stream(digest, excluding=video.video_id):
            video.duration.CopyFrom(duration(duration_s))
            video.error = one_line(f"{WARNING}{note}") if note else ""
            done = self._copy_from(video, source_id, stages, "the same coded stream")
            if done is not None:
                if note:
                    log.warning(ROW_NOTED, extra={"url": shown_url(video.url), "reason": note})
                return done
        video.ClearField("duration")
        video.error = ""
        return None

    def _stated_before(self, video: common_pb2.Video, coded: CodedStream, stages: dict[str, float]) -> Outcome | None:
        """The row done, before it is decoded, as a repost of an analysed video whose stored digest an older release
        wrote as one of `coded.legacies()`, lasting the `coded.stated_s` seconds the demux reads (as _digested_before
        does once decoded), or None. Only for a stream that hides no packet: an edit list hiding some makes it a
        trim, whose length decoding measures. A stream hiding none holds every frame of whatever shares its old
        digest, so a stored video lasting as long, within half a frame, shows what it shows."""
        assert coded.digest is not None and coded.legacy is not None
        video.error = one_line(f"{WARNING}{coded.note}") if coded.note else ""
        done = self._digested_before(video, coded.digest, coded.legacies(), coded.stated_s, coded.fps, stages)
        if done is None:
            video.ClearField("duration")  # decoding measures it
            video.error = ""
        elif coded.note:
            log.warning(ROW_NOTED, extra={"url": shown_url(video.url), "reason": coded.note})
        return done

    def _digested_before(self, video: common_pb2.Video, digest: str, legacies: Sequence[str], duration_s: float,
                         fps: float, stages: dict[str, float]) -> Outcome | None:
        """The row, decoded (`duration_s` seconds at `fps`), done as a repost of an analysed video whose stored digest
        an older release wrote as one of `legacies` (CodedStream.legacies(): without the stream's hidden head or
        end; with the times of leading pictures shown before its first packet), or None.
        That digest is also a trim's of its source (the same packets, a head or an end hidden by an edit list), so a
        stored video counts only when it lasts as long, within half a frame: a trim hides a frame or more. The video
        then keeps `digest` too, so that its next copy is known before it is decoded. Was: such a video's copies
        no longer matched it, analysed again (or copied only when their frames alike were few enough to print)."""
        assert self.reposts is not None
        for legacy in legacies:
            for source_id, theirs in self.reposts.same_stream(legacy, excluding=video.video_id):
                if abs(theirs - duration_s) > 0.5 / fps:
                    continue  # the same packets shown longer or shorter: a trim of that video, or its source
                video.duration.CopyFrom(duration(duration_s))
                done = self._copy_from(video, source_id, stages, "the same coded stream, digested by an older release")
                if done is not None:
                    self.reposts.add_digest(source_id, digest, theirs)
                    return done
        return None

    def _copied(self, video: common_pb2.Video, look: Signature, stages: dict[str, float]) -> Outcome | None:
        """The row done as a repost of an analysed video whose frames look the same (identity copies its
        people), or None when it is none: analyse it."""
        assert self.reposts is not None
        for source_id, theirs in self.reposts.candidates(look, excluding=video.video_id):
            if is_repost(look, theirs) and (done := self._copy_from(video, source_id, stages, "frames alike")):
                return done
        return None

    def _copy_from(self, video: common_pb2.Video, source_id: str, stages: dict[str, float],
                   why: str) -> Outcome | None:
        """Has identity copy the people of `source_id` into `video` and records the row; None when the
        source is no more (forgotten or erased since: it is no source any more)."""
        assert self.reposts is not None
        try:
            result = self.identity.CopyVideo(identity_pb2.CopyVideoRequest(
                video_id=video.video_id, source_video_id=source_id), timeout=self.timeout)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            self.reposts.forget(source_id)
            return None
        log.info("video %s is a repost of %s (%s): its people copied, not analysed", video.video_id, source_id, why)
        video.faces = result.faces_detected
        video.status = ST.VIDEO_STATUS_DONE
        appearances = list(result.appearances)
        t0 = time.perf_counter()
        self._record(video, appearances)
        stages["record"] = time.perf_counter() - t0
        return Outcome(video, appearances, stages)


def decode_timeout_s(max_video_seconds: float) -> float:
    """How long one video may take to decode before its decoder is stopped: twice the longest video allowed
    played in real time, and a minute more (decoding runs at 10-40x real time here)."""
    return 60.0 + 2.0 * max_video_seconds


def _goes_back(exc: Exception) -> bool:
    """Whether `exc`, met once the video was fetched, gives the row back to the queue rather than failing it
    (process()): a full disk's refusal (identity's face store, analytics' database, the frame spool), identity or
    analytics unreachable (UNAVAILABLE: a restart, a rolling update), or ingest's own database gone."""
    if isinstance(exc, grpc.RpcError):
        if exc.code() == grpc.StatusCode.UNAVAILABLE:
            return True
        details = getattr(exc, "details", None)
        return exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and callable(details) and DISK_FULL in str(details())
    return DISK_FULL in str(exc) or database_unreachable(exc)


def _full_disk_said(reason: str, at: int) -> str:
    """A row's reason from its full disk on (`at`: where DISK_FULL starts), the job's stall in these words. A refusal
    naming no disk ("disk full: could not write (database or disk is full)": failed_call said the call once, before
    it) keeps the call that met it: "disk full: analytics.RecordVideo could not write (...)". Was: the call cut off,
    and the stall named neither the service nor its store."""
    said = reason[at:]
    named = re.search(r"(\w+\.\w+) failed: RESOURCE_EXHAUSTED $", reason[:at])
    if named and said.startswith(f"{DISK_FULL}: could not write"):
        return f"{DISK_FULL}: {named.group(1)} {said.removeprefix(f'{DISK_FULL}: ')}"
    return said


def _span(name: str) -> AbstractContextManager[Span]:
    """A child span of the row's "video" span (a no-op while tracing is off)."""
    return tracing.tracer("ingest").start_as_current_span(name)


def _other_score(video: common_pb2.Video, same: common_pb2.Video) -> str:
    """What a duplicate's message adds when its score is not the one that counts (the video's own): said, so
    that a score changed under another URL of the same bytes is not lost in silence; "" when they agree."""
    if not video.HasField("performance"):
        return ""
    def shown(v: common_pb2.Video) -> str:
        return repr(v.performance).removesuffix(".0") if v.HasField("performance") else "(none)"
    if same.HasField("performance") and abs(same.performance - video.performance) <= 1e-12:
        return ""
    return f", whose score {shown(same)} counts, not this row's {shown(video)}"


class _FramesOf:
    """The AnalyzeVideo messages of a spool's records, for gRPC's sending thread. `close()`, from the caller
    once the call is over, closes the spool file at once: a call that ends before its last frame (refused,
    past its deadline) leaves the reading suspended, and only a garbage collection would close the file,
    whose disk space stays taken until then even once the spool has removed it."""

    def __init__(self, records: SpoolReader) -> None:
        self._records: Generator[bytes, None, None] = iter(records)
        self._lock = threading.Lock()  # the sending thread may be reading a record when the call ends
        self._closed = False

    def __iter__(self) -> Iterator[identity_pb2.AnalyzeVideoRequest]:
        return self

    def __next__(self) -> identity_pb2.AnalyzeVideoRequest:
        with self._lock:
            if self._closed:
                raise StopIteration
            return identity_pb2.AnalyzeVideoRequest.FromString(next(self._records))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._records.close()  # closing the reading generator closes its file
