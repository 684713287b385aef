"""The GPTQModel preflight fails before any work with one message naming the fix."""

from __future__ import annotations

from importlib import metadata

import pytest

from trust_core.errors import UserError
from trust_transformers import gptqmodel_runner


def _versions(found: dict[str, str]):
    def version(name: str) -> str:
        if name not in found:
            raise metadata.PackageNotFoundError(name)
        return found[name]

    return version


def test_a_missing_library_is_named_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gptqmodel_runner.metadata, "version", _versions({"gptqmodel": "7.6.0"}))
    with pytest.raises(UserError, match=r"--quantize gptq needs optimum: pip install optimum"):
        gptqmodel_runner.preflight("gptq")
    assert gptqmodel_runner.preflight("awq") == {"gptqmodel": "7.6.0"}  # awq does not need optimum
    monkeypatch.setattr(gptqmodel_runner.metadata, "version", _versions({}))
    with pytest.raises(UserError, match=r"--quantize awq needs gptqmodel: pip install 'gptqmodel==7\.6\.\*'"):
        gptqmodel_runner.preflight("awq")


def test_a_cuda_only_gptqmodel_on_a_cpu_machine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setattr(gptqmodel_runner.metadata, "version", _versions({"gptqmodel": "7.7.1", "optimum": "2"}))
    with pytest.raises(UserError, match=r"on CPU needs gptqmodel 7\.6 \(found 7\.7\.1"):
        gptqmodel_runner.preflight("gptq")
