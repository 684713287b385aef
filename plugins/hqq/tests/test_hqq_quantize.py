"""HQQ on SmolLM2's first blocks as a model folder: quantize, save in hqq's format, reload through the hqq backend,
generate (tests/test_e2e_offline_variants.py quantizes the whole SmolLM2 GGUF with hqq and evaluates it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from smollm2_blocks import BLOCKS, PROJECTIONS, float32_block_bytes, float32_parameter_bytes
from trust_hqq import HqqBackend, HqqQuantizer

from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings
from trust_core.registry import Registry

pytestmark = pytest.mark.slow


def test_4bit_g64_variant_is_saved_and_runs_in_the_hqq_backend(
    smollm2_first_blocks_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "hqq4"
    model = str(smollm2_first_blocks_folder)
    variant = HqqQuantizer().quantize(model, {"bits": 4, "group_size": 64, "seed": 42}, out)
    details = variant.details
    assert variant.model == str(out)
    assert (details["bits"], details["group_size"], details["axis"]) == (4, 64, 1)
    assert details["quantized_layers"] == {"HQQLinear": BLOCKS * PROJECTIONS}  # lm_head stays dense
    assert details["parameter_bytes_before"] == float32_parameter_bytes()
    # the blocks' projections shrink (4 bits and a scale and zero per 64 weights: well under 0.3 of float32); the
    # embedding and the LM head, held apart once quantized (the memory footprint counts both), stay float32
    kept_dense = 2 * float32_parameter_bytes(blocks=0)
    assert details["memory_bytes_after"] < kept_dense + float32_block_bytes() * 0.3
    assert details["reload_check"]["new_tokens"] > 0 and details["reload_check"]["text"].strip()
    assert details["calibration"] is None and details["base_source"] == "folder"
    assert (out / "qmodel.pt").stat().st_size < kept_dense + float32_block_bytes() * 0.3
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
