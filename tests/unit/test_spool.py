"""The spool a video's frames wait in: in memory while small, in a file past its limit, read back in order
by another process, removed on close, and a full disk is one clear error naming the folder."""

import pickle
import shutil

import pytest

from services.common.spool import Spool, SpoolError, SpoolReader


def records(n: int, size: int = 1000) -> list[bytes]:
    return [bytes([i % 256]) * (size + i) for i in range(n)]


def test_small_spools_stay_in_memory_and_read_back_in_order(tmp_path):
    with Spool(tmp_path, memory_bytes=1 << 20) as spool:
        for r in records(5):
            spool.append(r)
        reader = spool.reader()
        assert list(reader) == records(5) and len(reader) == 5 == len(spool)
        assert not list(tmp_path.iterdir())


def test_past_the_limit_every_record_moves_to_a_file_that_another_process_reads_and_close_removes(tmp_path):
    with Spool(tmp_path, memory_bytes=2500) as spool:
        for r in records(10):
            spool.append(r)
        reader = pickle.loads(pickle.dumps(spool.reader()))  # what a worker process receives
        assert reader.path and not reader.records
        assert list(reader) == records(10)
        assert len(list(tmp_path.iterdir())) == 1
    assert not list(tmp_path.iterdir())


def test_an_empty_record_and_an_empty_spool_read_back(tmp_path):
    with Spool(tmp_path, memory_bytes=0) as spool:
        assert list(spool.reader()) == []
        spool.append(b"")
        spool.append(b"x")
        assert list(spool.reader()) == [b"", b"x"]


def test_a_file_cut_short_is_an_error_not_fewer_frames(tmp_path):
    with Spool(tmp_path, memory_bytes=0) as spool:
        for r in records(3):
            spool.append(r)
        reader = spool.reader()
        with open(reader.path, "r+b") as f:
            f.truncate(1500)
        with pytest.raises(SpoolError, match="ended early"):
            list(SpoolReader(reader.count, path=reader.path))


@pytest.fixture
def tiny_disk(tmpfs):
    return tmpfs("1m")


def test_a_full_disk_is_a_spool_error_naming_the_folder_and_leaves_no_file(tiny_disk):
    spool = Spool(tiny_disk, memory_bytes=0)
    with pytest.raises(SpoolError, match=f"^disk full: cannot keep frames in {tiny_disk}: No space left on device"):
        for _ in range(100):
            spool.append(b"\0" * 100_000)
            spool.reader()  # flushes what is buffered
    spool.close()
    assert not list(tiny_disk.iterdir())


def test_a_spool_never_eats_the_room_the_stores_keep_free(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    spool = Spool(tmp_path, memory_bytes=10, min_free_bytes=free + 1)
    spool.append(b"x" * 5)  # in memory: no disk needed
    with pytest.raises(SpoolError, match=r"^disk full: the disk of .* \(INFLUENCERS_MIN_FREE_BYTES\)"):
        spool.append(b"x" * 10)
    spool.close()
    assert not list(tmp_path.iterdir())
