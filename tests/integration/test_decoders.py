"""Ingest's decoder processes: a video whose decoding kills its process fails alone, named by how the decoder
ended; the decoder is replaced and the next video decodes. Before, the decoder ran inside ingest, and such a
file took `influencers run` down with it each time it was run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from pathlib import Path

import av
import pytest
from prometheus_client import REGISTRY

from services.common.metrics import register_service
from services.ingest.decoders import DecoderCrashed, Decoders
from services.ingest.decoding import DecodeOrder

SMOKE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "smoke" / "videos"


def order(path: Path, scratch: Path) -> DecodeOrder:
    return DecodeOrder("v1", path, 1.0, 600.0, scratch, 32 << 20, 0, prints=True)


@pytest.fixture
def decoders():
    register_service("ingest")  # the restart counters, registered
    pool = Decoders(1)
    yield pool
    pool.close()


def _decode_in_background(decoders: Decoders, path: Path, scratch: Path) -> tuple[threading.Thread, list]:
    """The decode on a thread of its own; the list gets its result or what it raised."""
    ended: list = []

    def run() -> None:
        try:
            ended.append(decoders.decode(order(path, scratch)))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            ended.append(exc)

    caller = threading.Thread(target=run)
    caller.start()
    return caller, ended


def _smoke_video() -> Path:
    return sorted(SMOKE.glob("*.mp4"))[0]


def _an_idle_decoder(decoders: Decoders, scratch: Path) -> int:
    """The pid of the pool's one decoder, started by a first video and idle after it."""
    decoders.decode(order(_smoke_video(), scratch))
    (idle,) = decoders.pids()
    return idle


def _decode_a_fifo_in_background(decoders: Decoders, scratch: Path) -> tuple[Path, threading.Thread, list]:
    """A decode of a FIFO that nobody writes yet, on a thread of its own: the decoder that takes it waits in its
    FIFO, bounded, until the test writes the video (see `_decoded_after_one_crash`)."""
    stream = scratch / "clip.mp4"
    os.mkfifo(stream)
    return (stream, *_decode_in_background(decoders, stream, scratch))


def _decoded_after_one_crash(decoders: Decoders, sparing: set[int], stream: Path, caller: threading.Thread,
                             ended: list, scratch: Path):
    """One crash under the video (the decoder not in `sparing` killed while it holds `stream` open), then the video
    written into `stream` for the decoder that replaced it: the decode's result, which must be no error."""
    first = _kill_the_decoder(decoders, sparing, stream)
    assert _until(lambda: set(decoders.pids()) - sparing - {first}, 30)
    clip = _as_mpeg_ts(_smoke_video(), scratch / "clip.ts")  # read from a pipe front to back
    stream.write_bytes(clip.read_bytes())  # the new decoder, holding the FIFO open, reads it
    caller.join(60)
    assert len(ended) == 1 and not isinstance(ended[0], BaseException), ended
    return ended[0]


def _kill_the_decoder(decoders: Decoders, sparing: set[int], fifo: Path) -> int:
    """SIGSEGV to the decoder that is not in `sparing`, once it holds `fifo` open (the video reached it).
    Was: 0.3 s after it started, which under load could land before the video reached it."""
    assert _until(lambda: set(decoders.pids()) - sparing, 30)
    (victim,) = set(decoders.pids()) - sparing
    assert _until(lambda: _holding_open(victim, fifo), 30), f"decoder {victim} never opened the FIFO"
    os.kill(victim, signal.SIGSEGV)
    return victim


def _holding_open(pid: int, fifo: Path) -> bool:
    """Whether process `pid` has `fifo` open (its reading end: it waits there, bounded, for a writer's bytes). Was:
    whether it slept in open() for a writer, before pipe_spool opened FIFOs non-blocking."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(fifo) for fd in os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return False


def _as_mpeg_ts(video: Path, out_path: Path) -> Path:
    """`video`'s video stream remuxed into MPEG-TS (no re-encoding)."""
    with av.open(str(video)) as source, av.open(str(out_path), "w", format="mpegts") as out:
        copy = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.size:  # not the demuxer's flush packet
                packet.stream = copy
                out.mux(packet)
    return out_path


def _restarts(reason: str) -> float:
    return REGISTRY.get_sample_value("influencers_child_restarts_total", {"child": "decoder", "reason": reason})


def test_a_video_that_kills_its_decoder_twice_fails_naming_how_and_the_next_video_decodes(decoders, tmp_path):
    # A FIFO nobody writes holds the decoder waiting for its bytes: the signal lands mid-decode, every time.
    stuck = tmp_path / "stuck.mp4"
    os.mkfifo(stuck)
    before = _restarts("crash")
    caller, ended = _decode_in_background(decoders, stuck, tmp_path)
    first = _kill_the_decoder(decoders, set(), stuck)
    second = _kill_the_decoder(decoders, {first}, stuck)
    caller.join(30)
    assert len(ended) == 1 and isinstance(ended[0], DecoderCrashed)
    assert str(ended[0]) == ("the decoder crashed on this file twice (killed by SIGSEGV): a damaged or hostile "
                             "video; the other videos go on")
    assert _restarts("crash") - before == 2
    video = _smoke_video()
    decoded = decoders.decode(order(video, tmp_path))
    assert decoded.info.duration_s > 0 and len(decoded.frames) > 0 and len(decoded.times) == len(decoded.prints)
    assert first not in decoders.pids() and second not in decoders.pids()


def test_a_decoder_killed_once_under_a_video_is_replaced_and_the_video_decodes_in_the_new_one(decoders, tmp_path):
    # The OOM killer or a stray kill ends the decoder once: the video is not the cause, and decodes on retry.
    decoded = _decoded_after_one_crash(decoders, set(), *_decode_a_fifo_in_background(decoders, tmp_path), tmp_path)
    assert decoded.info.duration_s > 0 and len(decoded.frames) > 0


def test_closing_the_decoders_ends_their_processes(tmp_path):
    decoders = Decoders(2)
    try:
        decoders.decode(order(_smoke_video(), tmp_path))
        pids = decoders.pids()
        assert len(pids) == 1, "started on first use"
    finally:
        decoders.close()
    assert _until(lambda: not any(_alive(pid) for pid in pids))


def test_the_decoders_end_within_seconds_when_the_process_that_started_them_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from services.ingest.decoders import Decoders
        from services.ingest.decoding import DecodeOrder
        if __name__ == "__main__":  # the decoders import the main module too, as spawned processes do
            decoders = Decoders(1)
            decoders.decode(DecodeOrder("v1", Path({str(_smoke_video())!r}), 1.0, 600.0,
                                        Path({str(tmp_path)!r}), 1 << 25, 0, prints=False))
            print(" ".join(map(str, decoders.pids())), flush=True)
            time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 1 and _alive(pids[0])
        parent.kill()
        parent.wait(10)
        assert _until(lambda: not any(_alive(pid) for pid in pids))
    finally:
        parent.kill()


def _until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_decode_that_never_ends_is_stopped_at_its_deadline_and_the_next_video_decodes(decoders, tmp_path):
    stuck = tmp_path / "stuck.mp4"
    os.mkfifo(stuck)  # nobody writes: the decoder waits for its bytes (30 s), past the 0.5 s deadline
    with pytest.raises(DecoderCrashed, match=r"decoding took longer than 0.5 s and was stopped"):
        decoders.decode(order(stuck, tmp_path), timeout_s=0.5)
    decoded = decoders.decode(order(_smoke_video(), tmp_path), timeout_s=60)
    assert len(decoded.frames) > 0


def test_frames_past_the_memory_limit_come_back_in_a_file_that_the_caller_removes(decoders, tmp_path):
    from services.common.spool import removed_after

    small = DecodeOrder("v1", _smoke_video(), 1.0, 600.0, tmp_path, 1, 0, prints=False)
    decoded = decoders.decode(small)
    assert decoded.frames.path and Path(decoded.frames.path).parent == tmp_path
    with removed_after(decoded.frames) as records:
        assert sum(1 for _ in records) == len(decoded.frames) > 0
    assert not list(tmp_path.glob("spool-*"))


def test_a_decoder_that_ended_while_idle_costs_the_next_video_none_of_its_two_tries(decoders, tmp_path):
    # Before, the next video met the ended process at its submit and took it for its own first crash ("the decoder
    # process ended while it decoded video ..."): one crash under it then failed it as "crashed on this file twice".
    # So did every video that met a decoder its fork server's end had taken with it.
    idle = _an_idle_decoder(decoders, tmp_path)
    os.kill(idle, signal.SIGKILL)
    assert _until(lambda: not _alive(idle))
    time.sleep(1.0)  # the pool's own thread finds its process gone
    _decoded_after_one_crash(decoders, {idle}, *_decode_a_fifo_in_background(decoders, tmp_path), tmp_path)


def test_a_decoder_that_ends_in_the_instant_before_a_video_is_sent_costs_it_none_of_its_two_tries(decoders, tmp_path):
    # The race: the pool had not yet seen its process end when the video was sent, so the send succeeded and the
    # video met the end only after. Before, that counted as the video's first crash, and one crash under it then
    # failed it as "crashed on this file twice". Made certain here: the process is stopped, sent the video, then
    # killed, so it never reads it.
    idle = _an_idle_decoder(decoders, tmp_path)
    os.kill(idle, signal.SIGSTOP)
    stream, caller, ended = _decode_a_fifo_in_background(decoders, tmp_path)
    assert _until(lambda: _waits_for_its_result(caller), 30), "the video was never sent"
    os.kill(idle, signal.SIGKILL)
    # One crash under this video, in the decoder that took it next.
    decoded = _decoded_after_one_crash(decoders, {idle}, stream, caller, ended, tmp_path)
    assert decoded.info.duration_s > 0 and len(decoded.frames) > 0


def _waits_for_its_result(thread: threading.Thread) -> bool:
    """Whether `thread` has sent its video and waits for the decoder's answer (Future.result in its stack)."""
    frame = sys._current_frames().get(thread.ident or 0)
    return frame is not None and any(f.name == "result" and f.filename.endswith("_base.py")
                                     for f in traceback.extract_stack(frame))


def test_a_decoder_killed_while_it_counts_a_video_as_begun_leaves_ingest_waiting_on_nothing(decoders, tmp_path):
    # The count a decoder keeps of the videos it begins is a shared value behind a lock the decoder takes to add one:
    # killed in that instant, it leaves the lock taken for good. Ingest reads the count once the process ended; read
    # through the lock, that read waited for ever (the row's worker thread and the decoder's slot with it). Held
    # here by the test's thread, as the dead decoder would hold it.
    video = _smoke_video()
    idle = _an_idle_decoder(decoders, tmp_path)
    lock = decoders._pools[0].begun.get_lock()
    lock.acquire()
    try:
        os.kill(idle, signal.SIGSTOP)
        stream, caller, ended = _decode_a_fifo_in_background(decoders, tmp_path)
        assert _until(lambda: _waits_for_its_result(caller), 30), "the video was never sent"
        os.kill(idle, signal.SIGKILL)
        threading.Thread(target=lambda: stream.write_bytes(_as_mpeg_ts(video, tmp_path / "clip.ts").read_bytes()),
                         daemon=True).start()
        caller.join(30)
        assert not caller.is_alive(), "the decode waited on the lock of the dead decoder's count"
    finally:
        lock.release()
        caller.join(60)
    assert len(ended) == 1 and not isinstance(ended[0], BaseException), ended


class _Unstartable(Decoders):
    """Decoders whose every process ends as it starts, as when the decoding module cannot be imported (a fresh
    clone whose gRPC stubs were never generated: `ImportError: cannot import name 'identity_pb2'`)."""

    def _new(self):  # type: ignore[no-untyped-def]
        from concurrent.futures import ProcessPoolExecutor

        from services.ingest.decoders import _Decoder
        begun = self._context.Value("q", 0)
        pool = ProcessPoolExecutor(max_workers=1, mp_context=self._context, initializer=os._exit, initargs=(1,))
        decoder = _Decoder(pool, begun)
        with self._lock:
            self._pools.append(decoder)
        return decoder


def test_decoders_that_cannot_start_fail_a_video_saying_so_not_blaming_the_file(tmp_path):
    # Found from a fresh clone (session 40): every video of the smoke corpus failed as "the decoder crashed on this
    # file twice (exit code 1): a damaged or hostile video", where no decoder had ever begun one.
    register_service("ingest")
    pool = _Unstartable(1)
    try:
        with pytest.raises(DecoderCrashed) as failed:
            pool.decode(order(SMOKE / "v0001.mp4", tmp_path))
    finally:
        pool.close()
    said = str(failed.value)
    assert said.startswith("no decoder process could begin this video: each ended before it reached it (")
    assert "not the video's fault: the decoder cannot start here" in said
    assert "damaged or hostile" not in said
