"""`influencers ingest` reads its manifest once: a FIFO (or `<(command)`) written once works, where the CLI read it
to check it and again to send it (and refused a FIFO before either). Waiting for a FIFO's writer, Ctrl-C stops it
as any command: exit 130, one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from influencers.cli import main
from tests.integration.test_cli_interrupt import ctrl_c_as_a_terminal
from tests.integration.test_odd_media import write_faststart_mp4


def test_ingest_takes_a_manifest_from_a_fifo_written_once(stack, tmp_path, capsys):
    write_faststart_mp4(tmp_path / "a.mp4", seconds=2)
    write_faststart_mp4(tmp_path / "b.mp4", seconds=3)
    fifo = tmp_path / "manifest.csv"
    os.mkfifo(fifo)
    writes = []

    def write_once() -> None:
        with open(fifo, "w") as out:  # waits for the CLI to open it; the second open would wait forever
            out.write("Performance,Video URL\n1.0,a.mp4\n3.0,b.mp4\n")
        writes.append(1)

    writer = threading.Thread(target=write_once, daemon=True)
    writer.start()
    assert main(["ingest", str(fifo), "--ingest-port", str(stack.settings.ingest_port)]) == 0
    writer.join(30)
    assert writes == [1]
    assert "videos: 2 done\n" in capsys.readouterr().out
    assert sorted(stack.store.video_frame()["url"]) == ["a.mp4", "b.mp4"], "relative URLs: beside the FIFO"


def test_ctrl_c_while_ingest_waits_for_a_fifos_writer_is_130_without_a_traceback(tmp_path):
    fifo = tmp_path / "manifest.csv"
    os.mkfifo(fifo)  # no writer ever: the CLI waits for one, as `cat` would
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    process = subprocess.Popen([sys.executable, "-m", "influencers", "ingest", str(fifo), "--ingest-port", "56091"],
                               cwd=Path(__file__).resolve().parents[2], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=ctrl_c_as_a_terminal)
    deadline = time.monotonic() + 60
    while not _holds_open(process.pid, fifo) and time.monotonic() < deadline:  # it is waiting on the FIFO
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # it never ended: not left waiting on its FIFO after the test
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err and out == ""


def _holds_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_ingest_dash_reads_the_manifest_from_stdin_with_relative_urls_from_the_working_directory(stack, tmp_path):
    # `-` was "manifest - not found"; /dev/stdin read its relative URLs from /proc/PID/fd, where no video is
    write_faststart_mp4(tmp_path / "a.mp4", seconds=2)
    done = subprocess.run([sys.executable, "-m", "influencers", "ingest", "-", "--ingest-port",
                           str(stack.settings.ingest_port)], cwd=tmp_path, input="Performance,Video URL\n1.0,a.mp4\n",
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "videos: 1 done\n" in done.stdout
    assert list(stack.store.video_frame()["url"]) == ["a.mp4"]


def test_relative_urls_of_a_manifest_with_no_folder_of_its_own_are_read_from_the_working_directory(tmp_path,
                                                                                                    monkeypatch):
    from influencers.client import manifest_folder

    monkeypatch.chdir(tmp_path)
    read, write = os.pipe()
    try:
        assert manifest_folder(Path(f"/dev/fd/{read}")) == tmp_path, "an anonymous pipe: <(command)"
    finally:
        os.close(read)
        os.close(write)
    fifo = tmp_path / "in" / "m.csv"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    assert manifest_folder(fifo) == fifo.parent, "a named FIFO has its folder"
