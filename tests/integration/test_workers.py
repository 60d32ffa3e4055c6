"""Face worker processes: they die with their parent, a broken pool is rebuilt and the call retried, and
an image whose decoded size would exceed the pixel cap is refused before anything decodes it."""

import contextlib
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import cv2
import numpy as np
import psutil
import pytest
from prometheus_client import REGISTRY

from services.common.metrics import register_service
from services.common.spool import Spool, SpoolReader
from services.identity.analyzer import FrameIn
from services.identity.workers import FaceWorkers, WorkerDied

pytest.importorskip("face_recognition_models", reason="the face model is not installed")


def jpeg(width: int = 640, height: int = 480, seed: int = 0) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def png_header(width: int, height: int) -> bytes:
    """A PNG that announces `width` x `height` RGB pixels, with a tiny (truncated) body: a bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))


def frames(n: int) -> SpoolReader:
    """`n` frames as the server hands them to the workers (records of a spool held in memory)."""
    return SpoolReader(n, records=tuple(FrameIn(i, i * 0.5, i // 4, 0.5, jpeg(seed=i)).record() for i in range(n)))


def test_frames_spooled_to_a_file_reach_the_worker_one_by_one(workers, tmp_path):
    with Spool(tmp_path, memory_bytes=1) as spool:
        for record in frames(3):
            spool.append(record)
        assert list(tmp_path.iterdir()), "past memory_bytes the records are in a file"
        assert workers.analyze(spool.reader(), 0.5).frames == 3
    assert not list(tmp_path.iterdir()), "closing the spool removes its file"


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def workers():
    pool = FaceWorkers(2)
    yield pool
    pool.close()


def test_a_worker_killed_during_analyze_is_replaced_and_the_call_and_the_next_succeed(workers):
    register_service("identity")
    restarts = {"child": "face_worker", "reason": "crash"}
    before = REGISTRY.get_sample_value("influencers_child_restarts_total", restarts)
    victims = workers.pids()
    assert len(victims) == 2
    killer = threading.Timer(1.0, lambda: [os.kill(pid, signal.SIGKILL) for pid in victims])
    killer.start()
    try:
        analysis = workers.analyze(frames(16), 0.5)  # model load + 16 frames: longer than the 1 s fuse
    finally:
        killer.join()
    assert analysis.frames == 16
    assert all(gone(pid) for pid in victims)
    assert set(workers.pids()).isdisjoint(victims)
    assert workers.analyze(frames(2), 0.5).frames == 2
    assert REGISTRY.get_sample_value("influencers_child_restarts_total", restarts) - before == 1


def test_a_call_whose_workers_die_again_on_the_retry_fails_saying_so_and_the_pool_serves_the_next(workers):
    # Before, the retry's BrokenProcessPool left the servicer as "internal error in AnalyzeVideo", naming
    # nothing. The killer stands for an input that crashes the face model each time it is analysed.
    stop = threading.Event()

    def kill_every_worker() -> None:
        while not stop.wait(0.1):
            for pid in workers.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_every_worker)
    killer.start()
    try:
        with pytest.raises(WorkerDied, match="the face analysis process died on it twice"):
            workers.analyze(frames(16), 0.5)
    finally:
        stop.set()
        killer.join()
    assert workers.analyze(frames(2), 0.5).frames == 2


def test_health_says_broken_while_a_worker_is_dead_then_the_pool_is_rebuilt(workers):
    os.kill(workers.pids()[0], signal.SIGKILL)
    assert wait_until(lambda: not workers.healthy(), 5)
    assert workers.healthy()
    assert workers.analyze(frames(1), 0.5).frames == 1


def test_an_image_whose_decoded_size_exceeds_the_cap_is_refused_naming_its_size(workers):
    bomb = png_header(12000, 12000)
    with pytest.raises(ValueError, match="12000x12000"):
        workers.encode_largest(bomb)
    with pytest.raises(ValueError, match=r"frame 1: image of 12000x12000 px"):
        workers.check(FrameIn(1, 0.5, 0, 0.5, bomb))
    assert workers.healthy()  # refused in the parent: no worker decoded it


def test_a_frame_that_is_not_an_image_is_refused_as_a_value_error(workers):
    with pytest.raises(ValueError, match="frame 0: image is not a JPEG or PNG"):
        workers.check(FrameIn(0, 0.0, 0, 0.5, b"not an image"))


def test_a_lower_cap_applies_to_ordinary_frames():
    pool = FaceWorkers(1, max_pixels=100 * 100)
    try:
        with pytest.raises(ValueError, match="640x480 px .* more than the limit of 10000 px"):
            pool.check(FrameIn(0, 0.0, 0, 0.5, jpeg()))
    finally:
        pool.close()


def test_the_workers_die_within_seconds_when_their_parent_is_killed(tmp_path):
    script = textwrap.dedent("""
        import sys, time
        from services.identity.workers import FaceWorkers
        pool = FaceWorkers(2)
        print(" ".join(map(str, pool.pids())), flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and not any(gone(p) for p in pids)
        parent.kill()
        parent.wait(10)
        assert wait_until(lambda: all(gone(p) for p in pids), 5), [p for p in pids if not gone(p)]
    finally:
        parent.kill()


def test_close_stops_the_workers_at_once():
    pool = FaceWorkers(2)
    pids = pool.pids()
    pool.close()
    assert wait_until(lambda: all(gone(p) for p in pids), 5)
