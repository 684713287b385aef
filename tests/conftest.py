"""Shared fixtures: run the real `trust` CLI, in-process or as a subprocess.

The ``trust`` and ``scripted`` fixtures run the CLI's real entry point (``trust_core.cli.main``) in the test's own
process (fresh plugin registry, isolated streams, environment and working directory, restored afterwards), which
spares the fast tier a Python start-up per command. Tests of what only a separate process shows (exit on a signal,
a lock held by another process, a real traceback, a real model's memory) call :func:`trust_subprocess`, and tests
marked ``slow`` get it from the fixtures too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from trust_core.testing import CliResult, run_cli

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = REPO / "tests" / "plugin_dir"
ARCHIVE = REPO.parent / "shared" / "datasets" / "trustllm" / "dataset.zip"


Completed = CliResult
"""Outcome of one CLI invocation."""


def trust_subprocess(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> Completed:
    """Run `python -m trust_core` as a separate process (real exit codes, real tracebacks)."""
    full_env = {**os.environ, "TRUST_PROGRESS": "0", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "trust_core", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def trust_in_process(*args: str, env: dict[str, str] | None = None, timeout: float | None = None) -> Completed:
    """Run the CLI in this process as :func:`trust_subprocess` runs it in another (see
    :func:`trust_core.testing.run_cli`); ``timeout`` is accepted for the same signature and not enforced."""
    return run_cli(*args, env=env, cwd=REPO)


Runner = Callable[..., Completed]


def _runner_for(request: pytest.FixtureRequest) -> Runner:
    """In-process, except for tests marked ``slow`` (real models: their memory and native output stay in a
    process of their own)."""
    return trust_subprocess if request.node.get_closest_marker("slow") is not None else trust_in_process


@pytest.fixture
def trust(request: pytest.FixtureRequest) -> Runner:
    """Run the CLI: trust(*args, env=...) -> Completed (in-process; a subprocess for slow tests)."""
    return _runner_for(request)


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Runner:
    """Run the CLI with the scripted single-file plugin loaded."""
    runner = _runner_for(request)

    def run(*args: str, env: dict[str, str] | None = None) -> Completed:
        return runner("--plugin-dir", str(PLUGIN_DIR), *args, env=env)

    return run


@pytest.fixture
def archive() -> Path:
    """The real TrustLLM archive (tests using it skip when it is absent)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {ARCHIVE}")
    return ARCHIVE


SCRIPTED_STUDY = """
[study]
name = "scripted-study"
model = "scripted:echo"
tasks = ["private/echo"]
[[variants]]
name = "dense"
[[variants]]
name = "refusing"
model = "scripted:refuse"
[[sweeps]]
quantize = "copy"
recipe = { bits = [4, 8] }
"""
"""A study of the scripted plugin: the echo model dense, one that refuses everything, and two copies."""


def run_scripted_study(folder: Path) -> Path:
    """:data:`SCRIPTED_STUDY` run into ``folder/s`` (milliseconds a variant, no model); its run directory."""
    (folder / "study.toml").write_text(SCRIPTED_STUDY)
    args = ("study", "run", str(folder / "study.toml"), "--run-dir", str(folder / "s"))
    result = trust_in_process("--plugin-dir", str(PLUGIN_DIR), *args, env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 0, result.stderr
    return folder / "s"


def read_results(path: Path) -> tuple[dict, dict]:
    """results.json at ``path``, schema-validated and with every n_invalid within n, and its metrics by
    (task, subset, metric)."""
    from trust_core.results import validate_results

    results = json.loads(path.read_text())
    validate_results(results)
    by_key = {(m["task"], m["subset"], m["metric"]): m for m in results["metrics"]}
    for metric in results["metrics"]:
        assert 0 <= metric["n_invalid"] <= metric["n"], metric
    return results, by_key
