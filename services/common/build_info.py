"""Which build a process runs: the package's version and the git revision it was built from, for the
`influencers_build_info` metric (Prometheus' convention, as `prometheus_build_info`).

The revision is known without git at run time. An installed copy (a wheel, the images' `pip install .`) has it in
the file REVISION beside this module, written as the package was built (setup.py: `INFLUENCERS_REVISION`, which
the Dockerfile passes from its REVISION build argument, else the source's own checkout). A source checkout (a fresh
clone, `make`'s editable install) has no such file: the revision is read from its `.git` (HEAD, then the branch's
ref, loose or packed; a worktree's `.git` file points at its own HEAD), so it follows every commit. Neither:
"unknown".

Stdlib only: setup.py loads this file by its path while the package is being built.
"""

from __future__ import annotations

import functools
import os
import platform
import re
from importlib import metadata
from pathlib import Path

UNKNOWN = "unknown"
REVISION_FILE = Path(__file__).with_name("REVISION")
REVISION_ENV = "INFLUENCERS_REVISION"  # read while the package is built, never at run time
_HEX = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # SHA-1, or SHA-256 repositories


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _git_dir(start: Path) -> Path | None:
    """The git directory of the checkout holding `start`: `.git` itself, or where a worktree's `.git` file points."""
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            pointer = _read(dot_git)
            if pointer.startswith("gitdir:"):
                found = Path(pointer.removeprefix("gitdir:").strip())
                return found if found.is_absolute() else (folder / found).resolve()
            return None
    return None


def git_revision(start: Path) -> str:
    """The commit checked out where `start` lies, read from the files of its git directory (no git program), or ""
    when `start` is in no checkout or its HEAD cannot be resolved."""
    git_dir = _git_dir(start)
    if git_dir is None:
        return ""
    head = _read(git_dir / "HEAD")
    if _HEX.fullmatch(head):  # a detached HEAD
        return head
    if not head.startswith("ref:"):
        return ""
    ref = head.removeprefix("ref:").strip()
    common = _read(git_dir / "commondir")  # a worktree's refs live in the main repository's directory
    roots = [git_dir, *([(git_dir / common).resolve()] if common else [])]
    for root in roots:
        loose = _read(root / ref)
        if _HEX.fullmatch(loose):
            return loose
    for root in roots:
        for line in _read(root / "packed-refs").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref and _HEX.fullmatch(sha):
                return sha
    return ""


def built_revision(source: Path, environ: dict[str, str] | None = None) -> str:
    """What the build writes to REVISION: `INFLUENCERS_REVISION` when set (an image's build, whose context has no
    `.git`), else the revision of the checkout holding `source`; "" when neither says."""
    env = os.environ if environ is None else environ
    given = env.get(REVISION_ENV, "").strip()
    return given or git_revision(source)


@functools.cache
def revision() -> str:
    """The git revision this code was built from (see the module's docstring), or "unknown"."""
    return _read(REVISION_FILE)[:64] or git_revision(Path(__file__).resolve().parent) or UNKNOWN


@functools.cache
def version() -> str:
    """The installed package's version (pyproject.toml's), or "unknown" when the package is not installed."""
    try:
        return metadata.version("influencers")
    except metadata.PackageNotFoundError:
        return UNKNOWN


def python_version() -> str:
    """The running Python's version, such as 3.11.2."""
    return platform.python_version()
