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
import os
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).parent

sys.dont_write_bytecode = False
"""pytest caches its assertion-rewritten test modules as bytecode (``__pycache__``, git-ignored); with
PYTHONDONTWRITEBYTECODE set, as on some machines, every pytest-xdist worker would rewrite every test module on
every run (10 s each on 2 cores)."""


THREAD_POOLS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables sizing the thread pools of torch (OpenMP, MKL) in this process and the ones it starts."""


def _share_the_cores() -> None:
    """In a pytest-xdist worker, size torch's thread pools to the worker's share of the cores (unless set already).

    By default each process's pools take every core, and OpenMP's threads wait on each other at every step: with
    ``-n auto`` (one worker per core) two workers running a model at once each took about twice as long as with a
    thread each (HQQ quantizing SmolLM2's first blocks on 2 cores: 4.0 s against 2.2 s; the llamacpp backend
    decodes on half the CPUs for the same reason). Set here, before any test module imports torch; commands run
    as subprocesses inherit it.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        share = str(max(1, (os.cpu_count() or 1) // workers))
        for name in THREAD_POOLS:
            os.environ.setdefault(name, share)


_share_the_cores()

os.environ.setdefault("TRUST_CACHE_DIR", str(_ROOT / ".test-artefacts" / "cache"))
"""The tests' cache (de-quantized copies of GGUF files, trust_transformers.gguf_cache) stays in the git-ignored
``.test-artefacts/`` of the checkout, not in the user's home; commands the tests start inherit it."""


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


@pytest.fixture(scope="session")
def smollm2_first_blocks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded SmolLM2 GGUF cut to its first two blocks (``tests/smollm2_blocks.py``): the base model of slow
    tests that check what a compression method writes, not what the model answers. Written once into pytest's
    cache folder (shared by the pytest-xdist workers and later runs), or a temporary folder without one."""
    pytest.importorskip("trust_smollm2")
    from smollm2_blocks import first_blocks_gguf

    return first_blocks_gguf(_cache_folder(request, tmp_path_factory, "smollm2-blocks"))


@pytest.fixture(scope="session")
def smollm2_first_blocks_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`smollm2_first_blocks` de-quantized to a model folder (float32 safetensors and tokenizer), for tests of
    what a method does to a model that need not read a GGUF file each time (half a minute a load)."""
    pytest.importorskip("trust_smollm2")
    from smollm2_blocks import first_blocks_folder

    return first_blocks_folder(_cache_folder(request, tmp_path_factory, "smollm2-blocks"))


def _cache_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """``name`` in pytest's cache folder (kept between runs, shared by the pytest-xdist workers), or a temporary
    folder when the cache is disabled (``-p no:cacheprovider``)."""
    cache = getattr(request.config, "cache", None)
    return cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which tier runs, and which plugins' tests are left out because the plugin is not installed."""
    full = config.getoption("--full") or config.getoption("markexpr")
    lines = ["tier: " + ("as selected" if full else "fast (slow tests left out; pytest --full runs them too)")]
    if MISSING_PLUGINS:
        lines.append(f"plugins not installed, their tests not collected: {', '.join(MISSING_PLUGINS)}")
    return lines
