"""AWQ on SmolLM2's first blocks as a model folder (AWQ on all 30 takes minutes on 2 cores; the gptq plugin's test
quantizes a GGUF file through the same GPTQModel runner), on CPU: quantize, save a GEMM checkpoint, load it in the
hf backend, generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from smollm2_blocks import BLOCKS, PROJECTIONS, float32_parameter_bytes

from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings

pytestmark = pytest.mark.slow


def test_awq_checkpoint_is_produced_on_cpu_and_loads_in_the_hf_backend(
    smollm2_first_blocks_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gptqmodel")
    from safetensors import safe_open
    from trust_awq import AwqQuantizer

    monkeypatch.chdir(tmp_path)  # a relative output folder must land here, not in GPTQModel's scratch folder
    out = tmp_path / "awq"
    recipe = {"bits": 4, "group_size": 64, "seed": 42, "calibration_samples": 8}
    variant = AwqQuantizer().quantize(str(smollm2_first_blocks_folder), recipe, Path("awq"))
    details = variant.details
    assert (details["bits"], details["group_size"], details["calibration"]["samples"]) == (4, 64, 8)
    assert details["quantize_dtype"] == "bfloat16" and details["device"] == "cpu"
    assert sum(details["quantized_layers"].values()) == BLOCKS * PROJECTIONS  # lm_head stays dense
    assert details["base_source"] == "folder" and details["parameter_bytes_before"] == float32_parameter_bytes()
    assert all("Awq" in name for name in details["quantized_layers"])
    assert details["reload_check"]["new_tokens"] > 0
    assert variant.model == str(out)
    config = json.loads((out / "config.json").read_text())["quantization_config"]
    assert (config["quant_method"], config["version"], config["bits"], config["group_size"]) == ("awq", "gemm", 4, 64)
    with safe_open(out / "model.safetensors", "pt") as saved:
        names = set(saved.keys())
    packed = {name.removesuffix(".qweight") for name in names if name.endswith(".qweight")}
    assert len(packed) == BLOCKS * PROJECTIONS and not {f"{name}.weight" for name in packed} & names
    assert (out / "model.safetensors").stat().st_size < float32_parameter_bytes() / 2  # below the bfloat16 model
    assert not (Path.cwd() / "logs").exists() or not any((Path.cwd() / "logs").glob("*awq*"))

    hf = pytest.importorskip("trust_hf")
    assert hf.HFBackend.supports(str(out)) == 2
    backend = hf.HFBackend(str(out), BackendOptions(batch_size=2))
    try:
        settings = GenerationSettings(temperature=0.0, max_new_tokens=6, seed=0)
        requests = [
            ChatRequest("a", ({"role": "user", "content": "Name one primary color."},), settings),
            ChatRequest("b", ({"role": "user", "content": "What is the capital of France?"},), settings),
        ]
        results = list(backend.generate(requests))
    finally:
        backend.close()
    assert [r.error for r in results] == [None, None]
    assert all(r.text.strip() and r.completion_tokens > 0 for r in results)
