"""dlib's frontal face (HOG) detector, kept in a file once built.

dlib makes this detector from a compressed text at each `get_frontal_face_detector()`: 0.66 CPU s in every face
worker as it loads its models (two workers a run, one more at each rebuild of the pool), where reading its own
serialization back takes ~3 ms. The file is dlib's serialization of that very detector (its filters as stored,
bit for bit: the same boxes and scores), named by dlib's version, read by dlib's own reader (no pickle), and
written under a temporary name then renamed, so that a file is whole or absent. A folder that cannot be read or
written costs the 0.66 s again, nothing else."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def model_cache_dir() -> Path | None:
    """Where built models are kept between runs: $XDG_CACHE_HOME/influencers (~/.cache/influencers), the folder
    deploy/dlib.sh keeps dlib's wheel in; None for a process with neither variable nor a home (a bare container)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry for this uid
            return None
    return Path(base) / "influencers"


def detector_file(folder: Path) -> Path:
    """The detector's file in `folder`, for the dlib installed."""
    import dlib

    return folder / f"dlib-{dlib.__version__}-frontal_face_detector.svm"


def frontal_face_detector(folder: Path | None) -> Any:
    """dlib's frontal face detector (dlib.fhog_object_detector), read from `folder` when it holds it, else built
    and written there for the next start. None: built, nothing read or written."""
    import dlib

    if folder is None:
        return dlib.get_frontal_face_detector()
    path = detector_file(folder)
    with contextlib.suppress(RuntimeError):  # dlib's error for a file missing, unreadable or not a detector
        return dlib.fhog_object_detector(str(path))
    detector = dlib.get_frontal_face_detector()
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        detector.save(tmp)
        os.replace(tmp, path)
        tmp = None
    except (OSError, RuntimeError) as exc:  # a read-only home, a full disk: the next start builds it again
        log.debug("dlib's face detector not kept in %s: %s", folder, exc)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return detector
