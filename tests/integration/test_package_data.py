"""The installed package is whole: the images install it with `pip install .` (deploy/docker/Dockerfile), not
as an editable checkout, so every file the code reads besides its modules (the page's templates and style
sheet, Alembic's templates) must be in the wheel. Without them the analytics image served no page."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_file_of_the_packages_not_only_their_modules(tmp_path):
    source = tmp_path / "src"  # what the Dockerfile copies, without .git (no file list from version control)
    source.mkdir()
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, source)
    for package in ("influencers", "services"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(tmp_path / "wheel"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    data = [
        str(p.relative_to(source))
        for package in ("influencers", "services")
        for p in (source / package).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert any(name.endswith("templates/overview.html") for name in data)
    missing = sorted(name for name in data if name not in packed)
    assert not missing, f"not in the wheel: {missing}"
