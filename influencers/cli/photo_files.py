"""Reading an enrol photo named on the command line: a regular file of at most MAX_PHOTO_BYTES, else one line
saying what it is. A folder, a FIFO or a device (/dev/zero) read as "not found", which they are not; a FIFO is
opened without blocking, and no more than the cap is read whatever the file's stated size (/proc files state 0)."""

from __future__ import annotations

import os
import stat

from services.common.file_kind import file_kind

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # one reference photo


class PhotoError(ValueError):
    """A photo argument that is no readable photo file; its text names it."""


def photo_bytes(name: str) -> bytes:
    """The bytes of the photo file `name`; PhotoError saying why not (missing, no regular file, over the cap)."""
    shown = repr(name[:80])
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PhotoError(f"photo {shown} not found") from None
    except OSError as exc:
        raise PhotoError(f"photo {shown} cannot be read ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise PhotoError(f"photo {shown} is not a regular file ({file_kind(mode)}): give a JPEG or PNG file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_PHOTO_BYTES + 1)
        except OSError as exc:
            raise PhotoError(f"photo {shown} cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(f"photo {shown} is over {MAX_PHOTO_BYTES // 2**20} MiB")
    return data

    return "a special file"
