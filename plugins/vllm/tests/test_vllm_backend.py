"""The vllm backend on a machine without what it needs: one message, exit 2, before any work; never chosen by
default there. (Its generation is measured on a GPU machine: bench/bench_generation.py --backend vllm.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from trust_vllm import VllmBackend, missing_requirements

from trust_core.plugin import run_cli
from trust_core.registry import Registry

NEEDS = missing_requirements()
pytestmark = pytest.mark.skipif(not NEEDS, reason="this machine can run vLLM: the refusal path is not reachable")


def test_backend_vllm_without_a_cuda_gpu_exits_2_before_any_work(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ("--backend", "vllm", "--model", "org/model", "--tasks", "truthfulness/hallucination", "--limit", "1")
    done = run_cli("run", *args, "--run-dir", str(run_dir), env={"TRUST_LOAD_PLUGINS": "vllm,truthfulness"})
    assert done.code == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert "--backend vllm needs an NVIDIA GPU with CUDA and the vllm package" in line
    assert "no CUDA GPU is visible" in line or importlib.util.find_spec("torch") is None
    if importlib.util.find_spec("vllm") is None:
        assert "the vllm package is not installed" in line
    assert "Use --backend hf" in line
    assert not run_dir.exists()


def test_vllm_is_never_the_default_backend_where_it_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert VllmBackend.supports(str(tmp_path)) == 0
    assert VllmBackend.supports("org/model") == 0


def test_the_plugin_registers_the_vllm_backend_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUST_LOAD_PLUGINS", "vllm")
    registry = Registry()
    assert registry.names("backend") == ["vllm"]
    assert set(VllmBackend.declared_options) >= {"gpu_memory_utilization", "max_model_len", "enforce_eager"}
