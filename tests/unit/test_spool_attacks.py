"""The spool's promise about the room the stores keep free, held to on a real (tmpfs) filesystem."""

import shutil
import subprocess

import pytest

from services.common.spool import Spool, SpoolError

MIB = 1024 * 1024


@pytest.fixture
def disk(tmp_path):
    """A 48 MiB tmpfs (root only); unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_spool_already_in_its_file_stops_before_it_eats_into_the_room_kept_free(disk):
    # 4 MiB above the margin when the spool moves to its file: it may take those, not the margin under
    # them (the stores' mapped writes need it: a full disk there is a SIGBUS), and says "disk full".
    margin = shutil.disk_usage(disk).free - 4 * MIB
    lowest = shutil.disk_usage(disk).free
    with Spool(disk, memory_bytes=0, min_free_bytes=margin) as spool, \
            pytest.raises(SpoolError, match="^disk full"):
        for _ in range(200):  # 20 MiB at most
            spool.append(b"\1" * 100_000)
            spool.reader()  # flushed: on the disk
            lowest = min(lowest, shutil.disk_usage(disk).free)
    assert lowest >= margin, f"the spool left {(margin - lowest) / MIB:.1f} MiB less than the margin free"
