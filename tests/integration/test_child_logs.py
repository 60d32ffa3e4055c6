"""With JSON logs, what a service's other processes write to the shared stderr is JSON too: its decoders, and
multiprocessing's resource tracker warning about the semaphores a SIGKILLed service left behind."""

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from services.common.logs import LogSetup
from services.common.resource_tracker import start_resource_tracker

ROOT = Path(__file__).resolve().parents[2]


def stderr_of(script: str, before: str = "", level: str = "INFO") -> list[str]:
    """The stderr lines of `script` run by a fresh interpreter as `influencers service ingest` sets logging up
    (INFLUENCERS_LOG_FORMAT=json, INFLUENCERS_LOG_LEVEL `level`), `before` run ahead of that set-up, once it and
    every process holding its stderr have ended."""
    env = {**os.environ, "INFLUENCERS_LOG_FORMAT": "json", "INFLUENCERS_LOG_LEVEL": level}
    setup = (textwrap.dedent(before) + "from influencers.cli.config import configure_cli_logging\n"
             "configure_cli_logging('service', 'ingest')\n")
    done = subprocess.run([sys.executable, "-c", setup + textwrap.dedent(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    return [line for line in done.stderr.splitlines() if line.strip()]


def records(lines: list[str]) -> list[dict]:
    raw = [line for line in lines if not line.startswith("{")]
    assert not raw, f"lines that are not JSON: {raw}"
    return [json.loads(line) for line in lines]


def test_the_resource_trackers_warning_after_a_service_is_sigkilled_is_a_json_line():
    # Before, the tracker (an interpreter of its own, never set up) printed Python's raw two-line warning
    # "resource_tracker: There appear to be 1 leaked semaphore objects..." between the JSON lines.
    lines = stderr_of("""
        import multiprocessing, os, signal
        lock = multiprocessing.get_context("spawn").Lock()  # a named semaphore, registered with the tracker
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    (warning,) = [r for r in records(lines) if "leaked semaphore" in r["event"]]
    assert warning["level"] == "warning" and warning["service"] == "ingest"


def test_the_resource_tracker_starts_from_a_checkout_whose_path_holds_a_percent_sign(tmp_path):
    # Its command line was made with "%" formatting over the checkout's path: "/srv/100%d/influencers" failed the
    # start with a TypeError.
    link = tmp_path / "100%d"
    link.symlink_to(ROOT)
    lines = stderr_of("""
        import multiprocessing, os, signal
        lock = multiprocessing.get_context("spawn").Lock()
        os.kill(os.getpid(), signal.SIGKILL)
    """, before=f"import services.common.resource_tracker as tracker\ntracker._ROOT = {str(link)!r}\n")
    (warning,) = [r for r in records(lines) if "leaked semaphore" in r["event"]]
    assert warning["level"] == "warning"


def test_a_python_warning_in_a_decoder_process_is_a_json_line():
    # Before, a decoder (forked by the fork server, which never set logging up) printed it raw.
    lines = stderr_of("""
        import warnings
        from services.ingest.decoders import Decoders
        decoders = Decoders(1)
        decoders._idle.get().pool.submit(warnings.warn, "a decoder's own warning").result()
        decoders.close()
    """)
    (warning,) = [r for r in records(lines) if "a decoder's own warning" in r["event"]]
    assert warning["level"] == "warning" and warning["service"] == "ingest"


def test_a_decoder_processs_lines_about_a_video_name_it_and_its_row(tmp_path):
    # Before, a decoder's lines carried none of the row's fields: its process has none of ingest's row thread.
    lines = stderr_of(f"""
        from pathlib import Path
        from services.common import logs
        from services.ingest.decoders import Decoders
        from services.ingest.decoding import DecodeOrder
        from services.ingest.video import VideoError
        bad = Path({str(tmp_path)!r}) / "broken.mp4"
        bad.write_bytes(b"not a video at all" * 100)
        decoders = Decoders(1)
        with logs.row_context("4d30008f743544c4", 3):
            logs.bind(video_id="00000000000000cc")  # as ingest's row thread has once it knows the hash
            try:
                decoders.decode(DecodeOrder("00000000000000cc", bad, 1.0, 600.0, bad.parent, 1 << 20, 0, False))
            except VideoError:
                pass
        decoders.close()
    """, level="DEBUG")
    (decoding,) = [r for r in records(lines) if r["event"] == "decoding video 00000000000000cc"]
    assert (decoding["job_id"], decoding["row"], decoding["video_id"]) == ("4d30008f743544c4", 3, "00000000000000cc")


def test_a_python_warning_in_a_face_worker_process_is_a_json_line():
    # Before, a face worker (a spawned interpreter, never set up) printed it raw.
    lines = stderr_of("""
        import warnings
        from services.identity.workers import FaceWorkers
        workers = FaceWorkers(1)
        workers._pool.submit(warnings.warn, "a face worker's own warning").result()
        workers.close()
    """)
    (warning,) = [r for r in records(lines) if "a face worker's own warning" in r["event"]]
    assert warning["level"] == "warning" and warning["service"] == "ingest"


def test_a_python_whose_tracker_lacks_the_attributes_relied_on_keeps_the_stdlibs_tracker_and_says_so(caplog):
    # Python 3.14 may rename the tracker's _fd, _pid or _lock: before, the stdlib's tracker was kept in silence.
    caplog.set_level(logging.WARNING, logger="services.common.resource_tracker")
    assert start_resource_tracker(LogSetup("json"), tracker=object()) is False
    assert ("this Python lacks ResourceTracker._lock, ResourceTracker._fd, ResourceTracker._pid" in caplog.text)


def test_a_service_whose_python_lacks_them_starts_and_the_stdlibs_tracker_cleans_up_after_a_kill():
    # The stdlib's module functions stay bound to its own tracker: only what this module reads is gone.
    lines = stderr_of("""
        import multiprocessing, os, signal
        print("started", file=os.sys.stderr, flush=True)
        lock = multiprocessing.get_context("spawn").Lock()
        os.kill(os.getpid(), signal.SIGKILL)
    """, before="import multiprocessing.resource_tracker as rt\nrt._resource_tracker = type('Newer', (), {})()\n")
    assert "started" in lines
    (warning,) = [json.loads(line) for line in lines if "resource tracker" in line and line.startswith("{")]
    assert warning["level"] == "warning" and warning["service"] == "ingest"
    assert any("leaked semaphore" in line for line in lines)  # the stdlib's own tracker, as Python starts it


def test_the_traceback_of_a_decoder_the_fork_server_could_not_start_is_one_json_line():
    # Before, the fork server (an interpreter the stdlib starts, never set up) printed Python's raw traceback: a
    # dozen lines between the JSON ones.
    lines = stderr_of("""
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool
        from services.ingest.decoders import Decoders
        decoders = Decoders(1)
        decoders._idle.get().pool.submit(int).result()  # the fork server runs
        class Unknown:  # of this script's __main__: the fork server's child cannot find it
            pass
        pool = ProcessPoolExecutor(1, mp_context=decoders._context, initializer=print, initargs=(Unknown(),))
        try:
            pool.submit(int).result(timeout=60)
        except BrokenProcessPool:
            pass
        decoders.close()
    """)
    (failed,) = [r for r in records(lines) if "Can't get attribute 'Unknown'" in r["event"]]
    assert failed["level"] == "critical" and failed["service"] == "ingest" and failed["exception"]


def test_an_exception_no_one_caught_in_a_thread_is_one_json_line_naming_the_thread():
    # Before: Python's raw "Exception in thread worker:" and its traceback.
    lines = stderr_of("""
        import threading
        def fail():
            raise RuntimeError("a bug")
        thread = threading.Thread(target=fail, name="worker")
        thread.start()
        thread.join()
    """)
    (failed,) = [r for r in records(lines) if "a bug" in r["event"]]
    assert failed["event"] == "uncaught RuntimeError in thread worker: a bug" and failed["exception"]
