"""What a path that is no regular file is, in the words an error message names it with."""

from __future__ import annotations

import stat


def file_kind(mode: int, folder: str = "a folder", other: str = "a special file") -> str:
    """The kind of file `mode` (os.stat's st_mode) says: `folder` for a directory, "a FIFO", "a socket", "a
    character device", "a block device", else `other`."""
    for test, kind in ((stat.S_ISDIR, folder), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return other
