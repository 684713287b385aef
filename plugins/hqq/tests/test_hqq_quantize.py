"""HQQ on the real SmolLM2 GGUF: quantize, save in hqq's format, reload through the hqq backend, generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trust_hqq import HqqBackend, HqqQuantizer

from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings
from trust_core.registry import Registry

pytestmark = pytest.mark.slow


def test_4bit_g64_variant_is_saved_and_runs_in_the_hqq_backend(tmp_path: Path) -> None:
    trust_smollm2 = pytest.importorskip("trust_smollm2")
    out = tmp_path / "hqq4"
    variant = HqqQuantizer().quantize(trust_smollm2.gguf_path(), {"bits": 4, "group_size": 64, "seed": 42}, out)
    details = variant.details
    assert variant.model == str(out)
    assert (details["bits"], details["group_size"], details["axis"]) == (4, 64, 1)
    assert details["quantized_layers"] == {"HQQLinear": 210}  # 30 layers x 7 projections; lm_head stays dense
    assert details["parameter_bytes_before"] == 538_060_032
    assert details["memory_bytes_after"] < details["parameter_bytes_before"] * 0.6  # embeddings stay float32
    assert details["reload_check"]["new_tokens"] > 0 and details["reload_check"]["text"].strip()
    assert details["calibration"] is None and details["base_source"] == "gguf"
    assert (out / "qmodel.pt").stat().st_size < 200e6
    assert json.loads((out / "hqq_config.json").read_text())["bits"] == 4

    assert Registry().backend_class(None, str(out)) is HqqBackend
    backend = HqqBackend(str(out), BackendOptions(batch_size=2))
    try:
        settings = GenerationSettings(temperature=0.0, max_new_tokens=6, seed=0)
        requests = [
            ChatRequest("a", ({"role": "user", "content": "Name one primary color."},), settings),
            ChatRequest("b", ({"role": "user", "content": "What is 2 + 2?"},), settings),
        ]
        results = list(backend.generate(requests))
        info = backend.describe()
    finally:
        backend.close()
    assert [r.error for r in results] == [None, None]
    assert all(r.text.strip() for r in results)
    assert info["backend"] == "hqq" and info["hqq"]["bits"] == 4 and info["device"] == "cpu"
    assert backend.fingerprint().startswith("folder-sha256:")
