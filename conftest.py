"""Repository-wide pytest configuration: tests of a plugin that is not installed are not collected.

scripts/setup.sh --test installs every plugin; optional ones that need a compiler or heavy libraries
(llamacpp, bnb, gptq) may fail to install on some machines, and then their tests are left out
with a line in the report header saying so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_ROOT = Path(__file__).parent


def _missing_plugins() -> list[str]:
    missing = []
    for pyproject in sorted(_ROOT.glob("plugins/*/pyproject.toml")):
        module = f"trust_{pyproject.parent.name}"
        if importlib.util.find_spec(module) is None:
            missing.append(pyproject.parent.name)
    return missing


MISSING_PLUGINS = _missing_plugins()
collect_ignore_glob = [f"plugins/{name}/tests/*" for name in MISSING_PLUGINS]


def pytest_report_header(config: object) -> str | None:
    """Say which plugins' tests are left out because the plugin is not installed."""
    if MISSING_PLUGINS:
        return f"plugins not installed, their tests not collected: {', '.join(MISSING_PLUGINS)}"
    return None
