"""The public plugin surface (issue #10, item 3): plugins import the core only through ``trust_core.plugin``
(whose ``__all__`` is the plugin API) — checked by walking every plugin package's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import trust_core.plugin as surface
from conftest import REPO

PUBLIC = frozenset({"trust_core", "trust_core.plugin"})


def _core_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "trust_core":
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "trust_core"]
    return found


def test_every_public_name_exists() -> None:
    missing = [name for name in surface.__all__ if not hasattr(surface, name)]
    assert not missing and len(surface.__all__) > 100


def test_no_plugin_imports_a_private_core_module() -> None:
    packages = sorted(REPO.glob("plugins/*/trust_*")) + sorted(REPO.glob("libs/*/trust_*"))
    assert len(packages) >= 20
    private = []
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            for line, module, names in _core_imports(path):
                if module not in PUBLIC:
                    private.append(f"{path.relative_to(REPO)}:{line} imports {module}")
                elif module == "trust_core" and not set(names) <= {"hookimpl", "answer_parsing", "plugin"}:
                    private.append(f"{path.relative_to(REPO)}:{line} imports {names} from trust_core")
    assert not private, "\n".join(private)
