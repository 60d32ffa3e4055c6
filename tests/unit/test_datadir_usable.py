"""A data dir is made usable or refused in one line naming it; each process's download folder goes when
it is closed."""

import pytest

from services.common.datadir import DOWNLOADS, DataDirUnusable, ScratchDir, data_dir_lock, prepare_data_dir


def test_a_missing_data_dir_is_created_with_its_parents(tmp_path):
    assert prepare_data_dir(tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize(("where", "words"), [
    ("file", "is a file, not a folder"),
    ("file/data", "a parent is a file, not a folder"),
    ("/proc/no-such-data-dir", "cannot be created"),
])
def test_a_data_dir_that_cannot_be_a_folder_is_refused_in_one_line_naming_it(tmp_path, where, words):
    (tmp_path / "file").write_text("a regular file")
    where = tmp_path / where  # an absolute `where` stays itself
    with pytest.raises(DataDirUnusable) as caught:
        prepare_data_dir(where)
    message = str(caught.value)
    assert str(where) in message and words in message and "\n" not in message


def test_the_lock_refuses_an_unusable_data_dir_the_same_way(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataDirUnusable, match="is a file"), data_dir_lock(tmp_path / "file"):
        pass


def test_a_very_long_data_dir_is_cut_short_in_the_message(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataDirUnusable) as caught:
        prepare_data_dir(tmp_path / "file" / ("x" * 200))
    assert len(str(caught.value)) < 200


def test_closing_a_scratch_dir_removes_it_and_is_idempotent(tmp_path):
    scratch = ScratchDir(tmp_path)
    (scratch.path / "video-1.mp4").write_bytes(b"partial")
    assert scratch.path.parent == tmp_path / DOWNLOADS
    scratch.close()
    scratch.close()
    assert not scratch.path.exists()


def test_two_processes_folders_are_apart_and_neither_sweeps_the_other(tmp_path):
    one, two = ScratchDir(tmp_path), ScratchDir(tmp_path)
    try:
        assert one.path != two.path and one.path.exists() and two.path.exists()
        assert two.swept == 0
    finally:
        one.close()
        two.close()
