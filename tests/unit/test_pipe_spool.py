"""A pipe copied to a file before it is opened (services/ingest/pipe_spool.py): bounded in bytes and in a silent
writer's time, the copy gone once the block ends, a regular file used as it is."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from services.ingest.pipe_spool import PipeRefused, as_file


def fed(fifo: Path, data: bytes, then_wait_s: float = 0.0) -> threading.Thread:
    """A thread writing `data` into the FIFO `fifo` (made here), then holding it open `then_wait_s` seconds."""
    os.mkfifo(fifo)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(fifo, "wb") as out:
            out.write(data)
            out.flush()
            time.sleep(then_wait_s)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_a_regular_file_is_used_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(b"video")
    with as_file(path) as file:
        assert file == path
    assert path.exists()


def test_a_fifo_is_copied_to_a_file_of_its_suffix_removed_once_the_block_ends(tmp_path: Path) -> None:
    feeder = fed(tmp_path / "v.mkv", b"x" * 3_000_000)
    with as_file(tmp_path / "v.mkv") as file:
        assert file.is_file() and file.suffix == ".mkv" and file.read_bytes() == b"x" * 3_000_000
    feeder.join(10)
    assert not file.exists()


def test_a_pipe_longer_than_the_limit_is_refused_naming_the_limit_and_leaves_no_copy(tmp_path: Path) -> None:
    feeder = fed(tmp_path / "v.mkv", b"x" * 3_000_000)
    before = set(Path(tempfile.gettempdir()).glob("pipe-*"))
    with (pytest.raises(PipeRefused, match=r"^not a video we read: a pipe of more than 1,000,000 bytes \(the limit"),
          as_file(tmp_path / "v.mkv", max_bytes=1_000_000)):
        pass
    feeder.join(10)
    assert set(Path(tempfile.gettempdir()).glob("pipe-*")) == before


def test_a_writer_that_stops_sending_is_given_up_after_the_idle_limit_naming_it(tmp_path: Path) -> None:
    feeder = fed(tmp_path / "v.mkv", b"x" * 100, then_wait_s=2.0)
    with (pytest.raises(PipeRefused, match=r"^not a readable video \(the pipe sent nothing for 1 s after 100 bytes\)$"),
          as_file(tmp_path / "v.mkv", idle_s=1.0)):
        pass
    feeder.join(10)


def test_a_fifo_that_no_writer_opens_is_given_up_after_the_idle_limit(tmp_path: Path) -> None:
    # Was: os.open waited for a writer before the limit applied, for good
    os.mkfifo(tmp_path / "v.mkv")
    said: list[str] = []

    def read() -> None:
        try:
            with as_file(tmp_path / "v.mkv", idle_s=0.5):
                said.append("copied")
        except PipeRefused as exc:
            said.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # stuck in the open: a writer's open lets it go, so the test fails rather than hangs
        os.close(os.open(tmp_path / "v.mkv", os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
    assert said == ["not a readable video (the pipe sent nothing for 0.5 s after 0 bytes: did anything open it to "
                    "write?)"]


def test_a_pipe_is_copied_into_the_folder_given_and_never_into_the_system_temporary_folder(tmp_path: Path) -> None:
    """A decoder copies a pipe into ingest's own scratch folder (under its data dir): a full /tmp is no concern of
    ingest's. Was: tempfile.mkstemp in the system temporary folder, whatever the data dir."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    feeder = fed(tmp_path / "v.mkv", b"x" * 3_000_000)
    before = set(Path(tempfile.gettempdir()).glob("pipe-*"))
    with as_file(tmp_path / "v.mkv", scratch) as file:
        assert file.parent == scratch and file.read_bytes() == b"x" * 3_000_000
        assert set(Path(tempfile.gettempdir()).glob("pipe-*")) == before
    feeder.join(10)
    assert list(scratch.iterdir()) == []


def test_a_pipe_whose_copy_would_fill_the_scratch_disk_is_refused_as_disk_full_naming_the_folder(tmp_path: Path
                                                                                                 ) -> None:
    """The copy keeps the data dir's margin free (INFLUENCERS_MIN_FREE_BYTES), as a download and the frame spool do,
    and says "disk full" as they do, so ingest stalls the job until there is room (the row is not failed)."""
    feeder = fed(tmp_path / "v.mkv", b"x" * 100_000)
    huge = 1 << 60
    with (pytest.raises(PipeRefused, match=rf"^disk full: the disk of {tmp_path} has [\d.]+ MiB free, under the "
                                           r"\d+ MiB kept free \(INFLUENCERS_MIN_FREE_BYTES\): copying a video read "
                                           r"from a pipe refused"),
          as_file(tmp_path / "v.mkv", tmp_path, min_free_bytes=huge)):
        pass
    feeder.join(10)
    assert not list(tmp_path.glob("pipe-*"))


def test_a_scratch_folder_that_is_gone_is_refused_naming_it(tmp_path: Path) -> None:
    feeder = fed(tmp_path / "v.mkv", b"x" * 100)
    gone = tmp_path / "gone"
    with (pytest.raises(PipeRefused, match=rf"^cannot copy the pipe to a file in {gone} \(No such file or "
                                           r"directory\)$"),
          as_file(tmp_path / "v.mkv", gone)):
        pass
    reader = os.open(tmp_path / "v.mkv", os.O_RDONLY | os.O_NONBLOCK)  # the writer, never read, let go
    feeder.join(10)
    os.close(reader)
    assert not feeder.is_alive()
