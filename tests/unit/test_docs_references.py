"""The documentation names tests as evidence (docs/bad-input.md: `file::test` in every row): each name it gives
must be a test that exists, or the evidence it points to is gone."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tests_by_module() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        found.setdefault(path.stem, set()).update(
            re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
        )
    return found


def test_every_test_the_docs_name_exists() -> None:
    modules = _tests_by_module()
    every = set().union(*modules.values())
    stale = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for module, name in re.findall(r"(test_\w+)::\s*(test_\w+)", text):
            if name not in modules.get(module, set()):
                stale.append(f"{doc.name}: {module}::{name}")
        for name in set(re.findall(r"\b(test_\w+)\b", text)):
            if name not in every and name not in modules:
                stale.append(f"{doc.name}: {name}")
    assert not stale, "tests named in the docs that do not exist: " + "; ".join(sorted(stale))


def test_every_bench_script_the_docs_name_parses_its_command_line() -> None:
    # `--help` then prints its usage; without argparse, bench/feed_lag.py took `--help` for a corpus folder and
    # started a stack on it.
    named = set()
    for doc in [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        named |= set(re.findall(r"\bbench/(\w+)\.py", doc.read_text()))
    assert named
    without = sorted(n for n in named if "argparse" not in (ROOT / "bench" / f"{n}.py").read_text())
    assert not without, f"bench scripts that do not parse their arguments: {without}"


def test_every_file_and_function_the_docs_name_exists() -> None:
    # `services/common/name_text.py:clean_name`: the file, and a def or class of that name in it.
    missing = []
    for doc in [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path, name in re.findall(r"`([\w/]+\.py)(?::(\w+))?`", doc.read_text()):
            if "/" not in path:
                continue
            source = ROOT / path
            if not source.is_file():
                missing.append(f"{doc.name}: {path}")
            elif name and not re.search(rf"^\s*(?:async def|def|class) {name}\b", source.read_text(), re.MULTILINE):
                missing.append(f"{doc.name}: {path}:{name}")
    assert not missing, "named in the docs but not there: " + "; ".join(sorted(missing))
