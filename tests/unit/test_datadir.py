"""One process per data dir: DATA/.lock is taken without waiting, and a second holder is refused."""

import os

import pytest

from services.common.datadir import DataDirBusy, data_dir_lock


def test_the_lock_creates_the_data_dir_and_records_the_holder(tmp_path):
    data = tmp_path / "new" / "data"
    with data_dir_lock(data) as lock:
        assert lock == data / ".lock"
        assert lock.read_text().strip() == str(os.getpid())


def test_a_second_holder_is_refused_at_once_with_the_first_holders_pid(tmp_path):
    with data_dir_lock(tmp_path), pytest.raises(DataDirBusy) as caught, data_dir_lock(tmp_path):
        pass
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message and str(tmp_path) in message and "\n" not in message


def test_the_lock_is_free_again_after_the_holder_leaves(tmp_path):
    with data_dir_lock(tmp_path):
        pass
    with data_dir_lock(tmp_path):
        pass
