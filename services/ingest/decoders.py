"""Ingest's decoder processes. Each video is decoded in a process of its own, one per row thread, so that a file
that crashes the decoder (FFmpeg's segfault or abort on a hostile or damaged file) or makes the kernel kill it
ends that process, not ingest: the row fails naming how the decoder ended, the process is replaced, and the
other videos go on. Before, such a file took `influencers run` down with it, every time it was run again.

The processes are forked from multiprocessing's fork server, which has imported the decoding module once
(a new decoder is ready in milliseconds, not the second a spawned interpreter takes to import FFmpeg and
OpenCV); each ends when the process that started it ends.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized

import cv2

from services.common.child import die_with_process, how_it_ended, stop_pool
from services.common.logs import LogSetup, adopt_setup, bound, current_setup, row_fields
from services.common.metrics import count_child_restart
from services.common.stop_signal import uninterrupted
from services.ingest.decoding import Decoded, DecodeOrder, decode
from services.ingest.video import VideoError

log = logging.getLogger(__name__)


class DecoderCrashed(VideoError):
    """The decoder process ended while it decoded the video (a crash, or killed)."""


class _EndedBefore(Exception):
    """The decoder process had ended before the video reached it (killed while idle, or taken with its fork server,
    found so by the pool at the submit or only after it): no fault of the video."""


# In a decoder process: how many videos it has begun (shared with ingest, which reads it once the process ends).
_begun: Synchronized[int] | None = None


def _init(ingest_pid: int, log_setup: LogSetup | None = None, begun: Synchronized[int] | None = None) -> None:
    global _begun
    _begun = begun
    adopt_setup(log_setup)  # forked from the fork server, which never set up logging: a warning would be raw text
    # Its parent is the fork server, which outlives ingest as long as a decoder lives (each holds the fork
    # server's "a client is alive" pipe): each decoder watches ingest itself.
    die_with_process(ingest_pid)
    # Ctrl-C reaches the whole process group; ingest decides when its decoders stop (Decoders.close).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)  # colour conversion and JPEG of a few frames; FFmpeg has its own threads


def _decode_begun(order: DecodeOrder, fields: dict[str, object] | None = None) -> Decoded:
    """decode(`order`), in a decoder process, once it has counted the video as begun: a process that ends before
    the count ended before the video reached it. Every line it logs meanwhile carries `fields` (the row's job_id
    and row, from ingest's row thread) and the video's id, as ingest's own lines about the row do."""
    if _begun is not None:
        with _begun.get_lock():
            _begun.value += 1
    with bound(**{**(fields or {}), "video_id": order.video_id}):  # the row thread may have bound it already
        log.debug("decoding video %s", order.video_id)
        return decode(order)


@dataclass
class _Decoder:
    """One decoder process (a pool of one) and how many videos ingest sent it, against how many it began."""

    pool: ProcessPoolExecutor
    begun: Synchronized[int]
    sent: int = 0


class Decoders:
    """`processes` decoder processes, each decoding one video at a time; started on first use."""

    def __init__(self, processes: int) -> None:
        self._context = multiprocessing.get_context("forkserver")
        # The fork server (started once a process, at the first decoder) logs as this process does: the set-up
        # configure_logging exported is read by the first module it imports.
        self._context.set_forkserver_preload(["services.common.forkserver_logs", "services.ingest.decoding"])
        self._lock = threading.Lock()
        self._pools: list[_Decoder] = []
        self._idle: queue.SimpleQueue[_Decoder] = queue.SimpleQueue()
        for _ in range(max(1, processes)):
            self._idle.put(self._new())

    def _new(self) -> _Decoder:
        begun = self._context.Value("q", 0)
        pool = ProcessPoolExecutor(max_workers=1, mp_context=self._context, initializer=_init,
                                   initargs=(os.getpid(), current_setup(), begun))
        decoder = _Decoder(pool, begun)
        with self._lock:
            self._pools.append(decoder)
        return decoder

    def decode(self, order: DecodeOrder, timeout_s: float | None = None) -> Decoded:
        """`order`'s video decoded in a decoder process (waiting for a free one). Raises VideoError (from the
        decoder; DecoderCrashed when its process ended during the decode twice, a new process the second
        time, or when it took longer than `timeout_s`: it is then stopped) and SpoolError."""
        decoder = self._idle.get()
        try:
            attempt, replaced_before, reached = 0, False, False
            while attempt < 2:
                try:
                    return self._decode_in(decoder, order, timeout_s)
                except _EndedBefore as ended:
                    if not replaced_before:  # once a video, and costing it none of its two tries
                        replaced_before = True
                        log.warning("a decoder process had ended before video %s reached it (%s); starting another",
                                    order.video_id, ended)
                        count_child_restart("decoder", "crash")
                        decoder = self._replaced(decoder)
                        continue
                    crash: Exception = ended
                except BrokenProcessPool as broken:
                    crash, reached = broken, True
                attempt += 1
                how = str(crash)
                log.error("the decoder process ended while it decoded video %s (%s); starting another%s",
                          order.video_id, how, " and trying it once more" if attempt == 1 else "")
                count_child_restart("decoder", "crash")
                decoder = self._replaced(decoder)
            if not reached:
                # Every decoder ended before the video reached it: they cannot start here (from a fresh clone whose
                # gRPC stubs were never generated, every video failed as "a damaged or hostile video").
                raise DecoderCrashed(f"no decoder process could begin this video: each ended before it reached it "
                                     f"({how}); not the video's fault: the decoder cannot start here (its error is "
                                     "in the log above)")
            # Twice, in two processes: the file, not a passing cause (the OOM killer, a stray kill).
            raise DecoderCrashed(f"the decoder crashed on this file twice ({how}): a damaged or hostile video; "
                                 "the other videos go on")
        except TimeoutError:
            log.error("decoding video %s took longer than %g s; stopping its decoder", order.video_id, timeout_s)
            count_child_restart("decoder", "timeout")
            decoder = self._replaced(decoder)
            raise DecoderCrashed(f"decoding took longer than {timeout_s:g} s and was stopped (a damaged or "
                                 "hostile video that never ends, or a machine far too slow for it)") from None
        finally:
            self._idle.put(decoder)

    @staticmethod
    def _decode_in(decoder: _Decoder, order: DecodeOrder, timeout_s: float | None) -> Decoded:
        """The decode in `decoder`'s process; BrokenProcessPool (its message: how the process ended) when it ended
        under the video, _EndedBefore when it ended before the video reached it."""
        pool = decoder.pool
        with uninterrupted():  # a SIGTERM waits for the start: one that cut it would leave a half-made pool
            try:
                future = pool.submit(_decode_begun, order, row_fields())
            except BrokenProcessPool as ended:  # found so by the pool before this video was sent
                raise _EndedBefore(str(ended)) from None
            decoder.sent += 1
        workers: list[BaseProcess] = list((getattr(pool, "_processes", None) or {}).values())
        try:
            return future.result(timeout=timeout_s)
        except BrokenProcessPool:
            # The pool's own thread joins its dead process, reading its exit code from the fork server's pipe;
            # read while it does, the code goes to one reader and the other sees 255: its end first.
            manager = getattr(pool, "_executor_manager_thread", None)
            if manager is not None:
                manager.join(timeout=10)
            how = ", ".join(filter(None, (how_it_ended(p.exitcode) for p in workers))) or "it ended"
            # Read past its lock: a decoder killed while it added one holds that lock for good.
            if decoder.begun.get_obj().value < decoder.sent:
                # Ended in the instant before the video reached it, sent before the pool saw the end: no fault of the
                # video, as when the pool sees it first (was: counted as the video's first crash).
                raise _EndedBefore(how) from None
            raise BrokenProcessPool(how) from None

    def pids(self) -> list[int]:
        """Process ids of the decoders started so far."""
        with self._lock:
            decoders = list(self._pools)
        return sorted(pid for d in decoders for pid in (getattr(d.pool, "_processes", None) or {}))

    def _replaced(self, broken: _Decoder) -> _Decoder:
        stop_pool(broken.pool)
        with self._lock:
            self._pools.remove(broken)
        return self._new()

    def close(self) -> None:
        """Stops every decoder now (a decode running ends with its process)."""
        with self._lock:
            decoders, self._pools = self._pools, []
        for decoder in decoders:
            stop_pool(decoder.pool)
