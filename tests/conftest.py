"""Shared fixtures: run the real `trust` CLI, in-process or as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = REPO / "tests" / "plugin_dir"
ARCHIVE = REPO.parent / "shared" / "datasets" / "trustllm" / "dataset.zip"


@dataclass
class Completed:
    """Outcome of one CLI invocation."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


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


@pytest.fixture
def trust():
    """Run the CLI in a subprocess: trust(*args, env=...) -> Completed."""
    return trust_subprocess


@pytest.fixture
def scripted():
    """Run the CLI with the scripted single-file plugin loaded."""

    def run(*args: str, env: dict[str, str] | None = None) -> Completed:
        return trust_subprocess("--plugin-dir", str(PLUGIN_DIR), *args, env=env)

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
    result = trust_subprocess("--plugin-dir", str(PLUGIN_DIR), *args, env={"TRUST_LOAD_PLUGINS": ""})
    assert result.code == 0, result.stderr
    return folder / "s"
