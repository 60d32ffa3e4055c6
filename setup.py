"""Only what pyproject.toml cannot say: the build writes the git revision it builds into the package
(services/common/REVISION), so that an installed copy knows it without git (services/common/build_info.py)."""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _build_info():  # by its path: the package is not importable while it is being built
    spec = importlib.util.spec_from_file_location("_influencers_build_info", ROOT / "services/common/build_info.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithRevision(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout's .git as it runs
            return
        revision = _build_info().built_revision(ROOT)
        target = Path(self.build_lib) / "services" / "common" / "REVISION"
        if revision:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(revision + "\n", encoding="utf-8")
        else:  # nothing says it: an earlier build's file, left in build/, would name another revision
            target.unlink(missing_ok=True)


setup(cmdclass={"build_py": BuildPyWithRevision})
