"""The install is the same every time: every package `make`, the Dockerfile and CI install comes from a
lock in requirements/ with an exact version and sha256 hashes, and the locks agree with pyproject.toml."""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
LOCKS = ("build", "run", "face", "dev")
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)")


def lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """package -> (version, hashes) of requirements/<name>.txt (pip's --require-hashes format)."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (REQ / f"{name}.txt").read_text().splitlines():
        if m := PIN.match(line):
            current = canonicalize_name(m.group(1))
            out[current] = (m.group(2), [])
        elif line.strip().startswith("--hash=sha256:"):
            assert current is not None, line
            out[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"{name}.txt: unexpected line {line!r}")
    return out


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_has_an_exact_version_and_sha256_hashes(name):
    packages = lock(name)
    assert packages
    for package, (version, hashes) in packages.items():
        assert hashes, f"{name}.txt: {package}=={version} has no hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), package


def test_a_package_has_one_version_in_every_lock():
    everything = lock("dev")
    for name in ("build", "run", "face"):
        for package, (version, _) in lock(name).items():
            locked = everything[package][0]
            assert locked == version, f"{package}: {name}.txt {version}, dev.txt {locked}"


def test_the_locks_hold_the_face_model_and_the_embedded_store():
    face, run = lock("face"), lock("run")
    for package in ("dlib", "face-recognition-models", "face-recognition"):
        assert package in face
    assert face["face-recognition"][0] == "1.3.0"
    assert run["qdrant-edge-py"][0] == "0.9.0"


def test_the_face_locators_model_comes_from_one_hash_locked_wheel_that_is_never_installed():
    models = lock("models")
    assert list(models) == ["mediapipe"] and models["mediapipe"][0] == "0.10.14"
    assert "mediapipe" not in lock("dev") and "mediapipe" not in lock("run")
    script = (ROOT / "deploy" / "models.sh").read_text()
    assert "--require-hashes" in script and "pip download" in script and "pip install" not in script
    assert "deploy/models.sh" in (ROOT / "Makefile").read_text()
    assert "deploy/models.sh" in (ROOT / "deploy" / "docker" / "Dockerfile").read_text()


def test_running_installs_no_test_tool_and_no_browser():
    installed_by_run = {**lock("build"), **lock("run"), **lock("face")}
    for package in ("pytest", "playwright", "ruff", "ipykernel", "nbclient", "psutil"):
        assert package not in installed_by_run
    assert {"pytest", "playwright", "ruff"} <= set(lock("dev"))


def test_the_locked_versions_satisfy_pyproject():
    project = pyproject()["project"]
    groups = [("run", project["dependencies"]), ("face", project["optional-dependencies"]["face"]),
              ("dev", project["optional-dependencies"]["dev"])]
    everything = lock("dev")
    for name, requirements in groups:
        locked = lock(name) if name != "dev" else everything
        for text in requirements:
            req = Requirement(text)
            package = canonicalize_name(req.name)
            assert package in locked, f"{req.name} ({name}) is in pyproject.toml but not in {name}.txt"
            assert req.specifier.contains(locked[package][0], prereleases=True), \
                f"{package}=={locked[package][0]} does not satisfy {text}"


def test_the_build_tools_cover_what_the_sdists_and_the_stubs_need():
    build = lock("build")
    for package in ("setuptools", "wheel", "packaging", "cmake", "grpcio-tools"):
        assert package in build
    requires = [Requirement(r) for r in pyproject()["build-system"]["requires"]]
    for req in requires:
        assert req.specifier.contains(build[canonicalize_name(req.name)][0])


def test_make_ci_and_the_dockerfile_install_from_the_locks_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    for text in (makefile, dockerfile):
        assert "--require-hashes" in text
        assert "requirements/run.txt" in text and "requirements/face.txt" in text
    # `make run` sets up without the dev lock; only the test set-up reads it.
    run_setup = makefile.split("$(VENV)/.done:", 1)[1].split("\n\n", 1)[0]
    assert "dev.txt" not in run_setup and "--dev" not in run_setup
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_dlib_is_built_from_its_hash_locked_sdist_with_this_cpus_flags_and_kept_by_them():
    script = (ROOT / "deploy" / "dlib.sh").read_text()
    assert "--require-hashes" in script and "pip wheel" in script and "--no-cache-dir" in script
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.index("deploy/dlib.sh") < makefile.index("-r requirements/face.txt")
    # The one requirement the script builds: dlib's line and its hashes, cut out of the lock as the script does.
    awk = re.search(r"awk '([^']+)'", script).group(1)
    cut = subprocess.run(["awk", awk, str(ROOT / "requirements" / "face.txt")], capture_output=True, text=True,
                         check=True).stdout
    assert cut.startswith(f"dlib=={lock('face')['dlib'][0]} ") and cut.count("--hash=sha256:") >= 1
    assert "==" not in cut.split("\n", 1)[1]


def test_dlibs_flags_are_avx2_and_fma_only_where_the_cpu_has_both():
    flags = subprocess.run(["bash", str(ROOT / "deploy" / "dlib-flags.sh")], capture_output=True, text=True,
                           check=True).stdout.split()
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    has = set(next((line.split(":", 1)[1].split() for line in cpu.splitlines() if line.startswith("flags")), []))
    assert flags == (["-mavx2", "-mfma"] if {"avx2", "fma"} <= has else [])
