"""`influencers_build_info`: the git revision is known without git at run time, in a checkout (read from its .git
files) and in a built copy (the REVISION file the build writes), and "unknown" when neither says (real git
repositories in a temporary folder, real wheels built by pip)."""

import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

from prometheus_client import REGISTRY

from services.common import build_info
from services.common.metrics import register_service, start_metrics_server

ROOT = Path(__file__).resolve().parents[2]
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def committed(folder: Path) -> str:
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "one")
    return git(folder, "rev-parse", "HEAD")


def test_a_checkouts_revision_is_read_from_its_git_files_loose_packed_detached_and_in_a_worktree(tmp_path):
    repo = tmp_path / "repo"
    (repo / "services" / "common").mkdir(parents=True)
    (repo / "README").write_text("x")
    head = committed(repo)
    inside = repo / "services" / "common"
    assert build_info.git_revision(inside) == head  # refs/heads/main, a loose ref
    git(repo, "pack-refs", "--all")  # as a fresh clone has them: in packed-refs alone
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert build_info.git_revision(inside) == head
    git(repo, "worktree", "add", "-q", "-b", "other", str(tmp_path / "wt"))
    (tmp_path / "wt" / "more").write_text("y")
    git(tmp_path / "wt", "add", "-A")
    git(tmp_path / "wt", "commit", "-q", "-m", "two")
    assert build_info.git_revision(tmp_path / "wt") == git(tmp_path / "wt", "rev-parse", "HEAD") != head
    git(repo, "checkout", "-q", "--detach", head)
    assert build_info.git_revision(inside) == head
    assert build_info.git_revision(tmp_path / "nowhere") == ""  # no checkout above it


def test_the_metrics_endpoint_says_the_build_the_service_runs():
    register_service("buildprobe")
    server = start_metrics_server("127.0.0.1", 0)
    try:
        text = urllib.request.urlopen(server.url, timeout=10).read().decode()
    finally:
        server.stop()
    (line,) = [x for x in text.splitlines() if x.startswith("influencers_build_info{") and 'service="buildprobe"' in x]
    expected = git(ROOT, "rev-parse", "HEAD") if (ROOT / ".git").exists() else build_info.revision()
    assert f'revision="{expected}"' in line and line.endswith(" 1.0"), line
    assert f'version="{build_info.version()}"' in line and f'python="{build_info.python_version()}"' in line
    assert REGISTRY.get_sample_value("influencers_build_info", {
        "version": build_info.version(), "revision": expected, "python": build_info.python_version(),
        "service": "buildprobe"}) == 1


def _source_copy(to: Path) -> Path:
    """What the image's build copies (pyproject.toml, setup.py, influencers/, services/), without .git."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*_pb2*.py", "*_pb2*.pyi", "REVISION")
    to.mkdir()
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, to / name)
    for name in ("influencers", "services"):
        shutil.copytree(ROOT / name, to / name, ignore=ignore)
    return to


def _built_revision(source: Path, out: Path, env: dict[str, str]) -> str:
    """Builds a wheel of `source`, unpacks it in `out` (no checkout above it) and asks that copy its revision."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(out / "dist"), str(source)], env=env, check=True, capture_output=True, timeout=600)
    (wheel,) = (out / "dist").glob("influencers-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(out / "site")
    code = (f"import sys; sys.path.insert(0, {str(out / 'site')!r}); from services.common import build_info; "
            "print(build_info.revision())")
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=out, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def test_a_wheel_knows_the_revision_it_was_built_from_and_says_unknown_when_nothing_said_it(tmp_path):
    env = {k: v for k, v in GIT_ENV.items() if k != build_info.REVISION_ENV}
    clone = _source_copy(tmp_path / "clone")
    head = committed(clone)  # a checkout: the build reads its .git
    assert _built_revision(clone, tmp_path / "a", env) == head
    bare = _source_copy(tmp_path / "bare")  # the image's build context: no .git; its REVISION build argument
    given = "0123456789abcdef0123456789abcdef01234567"
    assert _built_revision(bare, tmp_path / "b", {**env, build_info.REVISION_ENV: given}) == given
    assert _built_revision(bare, tmp_path / "c", env) == build_info.UNKNOWN  # neither: said so
