"""`export` and `eval` of a data dir nobody may write (a read-only mount, a snapshot, another user's folder):
the store is opened read-only, read as it is, and never written."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def _fill(data: Path) -> None:
    store = AnalyticsStore(data / "analytics.sqlite3")
    for n in range(3):
        store.record_video(VideoRow(url=f"v{n}.mp4", video_id=f"{n:016x}", performance=float(n), status=DONE),
                           [AppearanceRow(f"{n:016x}", "inf_aaaa000001", 0.0, 2.0, 3, 2.0, 0.8, b"", False)])
    store.close()


@pytest.fixture
def read_only_data_dir() -> Iterator[Path]:
    """A data dir with a store, its folder and file without write permission, beside a writable `out`;
    world-readable, so that a process of another user (nobody, when the tests run as root, who may write
    anything) can read it."""
    top = Path(tempfile.mkdtemp(prefix="influencers-ro-"))
    data = top / "data"
    data.mkdir()
    _fill(data)
    (top / "out").mkdir(mode=0o777)
    os.chmod(top / "out", 0o777)
    os.chmod(top, 0o755)
    os.chmod(data / "analytics.sqlite3", 0o444)
    os.chmod(data, 0o555)
    yield data
    os.chmod(data, 0o755)
    shutil.rmtree(top)


def _as_a_reader(args: list[str], out: Path) -> subprocess.CompletedProcess:
    """The CLI run by a user who may not write the data dir: this one, or nobody when the tests run as root."""
    command = [sys.executable, "-m", "influencers", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot run the CLI as a user without write access")
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=out)
    if "ModuleNotFoundError" in result.stderr or "Permission denied" in result.stderr and "python" in result.stderr:
        pytest.skip(f"the checkout is not readable by uid {NOBODY}: {result.stderr[-200:]}")
    return result


def test_export_of_a_data_dir_nobody_may_write_succeeds_and_writes_nothing(read_only_data_dir):
    before = {p.name: p.read_bytes() for p in read_only_data_dir.iterdir()}
    out = read_only_data_dir.parent / "out"
    result = _as_a_reader(["export", "--data-dir", str(read_only_data_dir), "--out", str(out / "report")], out)
    assert result.returncode == 0, result.stderr
    assert (out / "report" / "videos.csv").read_text().count("\n") == 4
    assert {p.name: p.read_bytes() for p in read_only_data_dir.iterdir()} == before, "the data dir is unchanged"


def test_a_store_opened_read_only_refuses_to_write_even_for_root(tmp_path):
    _fill(tmp_path)
    store = AnalyticsStore(tmp_path / "analytics.sqlite3", read_only=True)
    try:
        assert [v.url for v in store.list_videos()] == ["v0.mp4", "v1.mp4", "v2.mp4"]
        with pytest.raises(Exception, match="readonly database"):
            store.record_video(VideoRow(url="x.mp4", video_id="00000000000000ff", performance=1.0, status=DONE))
    finally:
        store.close()
    with pytest.raises(sqlite3.OperationalError):
        AnalyticsStore(tmp_path / "nothing.sqlite3", read_only=True)
    assert not (tmp_path / "nothing.sqlite3").exists(), "a read-only open creates no file"


def test_eval_of_a_data_dir_nobody_may_write_scores_it(read_only_data_dir):
    truth = ROOT.parent / "shared" / "corpus" / "smoke"  # as the other corpus tests find it
    if not (truth / "truth.csv").is_file():
        pytest.skip("no smoke corpus with a truth.csv")
    result = _as_a_reader(["eval", "--data-dir", str(read_only_data_dir), "--truth", str(truth)],
                          read_only_data_dir.parent / "out")
    assert result.returncode == 0, result.stderr
    assert "mean_performance_error" in result.stdout
