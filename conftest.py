"""Repository-wide pytest configuration: two tiers, and tests of a plugin that is not installed are not collected.

``pytest`` runs the fast tier: every test not marked ``slow`` (no real model is loaded). ``pytest --full`` also
runs the slow tier (real SmolLM2 / MiniLM / quantizers); it is what CI runs (``.ci/run``). An explicit ``-m``
expression decides on its own.

scripts/setup.sh --test installs every plugin; optional ones that need a compiler or heavy libraries
(llamacpp, bnb, gptq) may fail to install on some machines, and then their tests are left out
with a line in the report header saying so.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).parent

sys.dont_write_bytecode = False
"""pytest caches its assertion-rewritten test modules as bytecode (``__pycache__``, git-ignored); with
PYTHONDONTWRITEBYTECODE set, as on some machines, every pytest-xdist worker would rewrite every test module on
every run (10 s each on 2 cores)."""


def _missing_plugins() -> list[str]:
    missing = []
    for pyproject in sorted(_ROOT.glob("plugins/*/pyproject.toml")):
        module = f"trust_{pyproject.parent.name}"
        if importlib.util.find_spec(module) is None:
            missing.append(pyproject.parent.name)
    return missing


MISSING_PLUGINS = _missing_plugins()
collect_ignore_glob = [f"plugins/{name}/tests/*" for name in MISSING_PLUGINS]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--full``: the slow tier too."""
    parser.addoption(
        "--full",
        action="store_true",
        help="also run the slow tier (tests that load real models); without it only the fast tier runs",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``--full`` (or an explicit ``-m``), leave the tests marked ``slow`` out, reported as deselected."""
    if config.getoption("--full") or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which tier runs, and which plugins' tests are left out because the plugin is not installed."""
    full = config.getoption("--full") or config.getoption("markexpr")
    lines = ["tier: " + ("as selected" if full else "fast (slow tests left out; pytest --full runs them too)")]
    if MISSING_PLUGINS:
        lines.append(f"plugins not installed, their tests not collected: {', '.join(MISSING_PLUGINS)}")
    return lines
