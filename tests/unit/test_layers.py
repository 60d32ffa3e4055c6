"""The package graph points one way: `influencers` (the CLI and the one-process stack) on top, the three
services below it, each on its own, and `services.common` at the bottom. The generated stubs
(`influencers.v1`) are the contract every layer may import."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _allowed(package: str, module: str) -> bool:
    if module.startswith("influencers.v1"):
        return True
    if module == "influencers" or module.startswith("influencers."):
        return False  # the layer above
    if module.startswith("services."):
        target = module.split(".")[1]
        return target == "common" or target == package
    return True


def test_no_service_imports_another_service_or_the_layer_above_and_common_imports_no_service() -> None:
    wrong = [f"{path.relative_to(ROOT)} imports {module}"
             for package_dir in sorted((ROOT / "services").iterdir()) if package_dir.is_dir()
             for path in sorted(package_dir.rglob("*.py"))
             for module in sorted(_imports(path)) if not _allowed(package_dir.name, module)]
    assert wrong == []
