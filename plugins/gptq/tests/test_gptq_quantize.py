"""The gptq quantizer on SmolLM2's first blocks as a model folder (GPTQ on all 30 takes minutes on 2 cores; a GGUF
file is de-quantized for GPTQModel by the same runner in tests/test_output_calm.py): calibrate, quantize, save,
reload through the hf backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from smollm2_blocks import BLOCKS, PROJECTIONS, float32_parameter_bytes

from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings

pytestmark = pytest.mark.slow


def test_4bit_checkpoint_is_saved_and_loads_in_the_hf_backend(
    smollm2_first_blocks_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gptqmodel")
    monkeypatch.chdir(tmp_path)

    out = tmp_path / "gptq"
    # through the command line, with a recipe key of gptq's own (issue #10): it reaches the plugin and is recorded
    args = ("--quantize", "gptq", "--quant-bits", "4", "--quant-group-size", "64", "--calibration-samples", "8")
    model = str(smollm2_first_blocks_folder)
    done = subprocess.run(
        [sys.executable, "-m", "trust_core", "compress", "--model", model, *args, "--recipe", "desc_act=true",
         "--out", str(out)], capture_output=True, text=True, env={**os.environ, "TRUST_PROGRESS": "0"}, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "variant.json").read_text())
    assert record["method"] == "gptq" and record["recipe"]["desc_act"] is True
    details = record["details"]
    assert details["desc_act"] is True
    assert (details["bits"], details["group_size"], details["calibration"]["samples"]) == (4, 64, 8)
    assert len(details["calibration"]["samples_sha256"]) == 64
    assert sum(details["quantized_layers"].values()) == BLOCKS * PROJECTIONS  # lm_head stays dense
    assert details["parameter_bytes_before"] == float32_parameter_bytes()
    assert details["base_source"] == "folder"
    assert details["reload_check"]["new_tokens"] > 0 and details["reload_check"]["text"].strip()
    assert details["libraries"]["gptqmodel"].startswith("7.6.")
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "gptq" and config["quantization_config"]["desc_act"]
    assert (config["quantization_config"]["bits"], config["quantization_config"]["group_size"]) == (4, 64)
    assert (out / "tokenizer.json").is_file()
    assert not (tmp_path / "logs").exists()  # GPTQModel's ./logs run log goes to the scratch folder

    hf = pytest.importorskip("trust_hf")
    backend = hf.HFBackend(str(out), BackendOptions(batch_size=1))
    try:
        settings = GenerationSettings(temperature=0.0, max_new_tokens=6, seed=0)
        request = ChatRequest("k", ({"role": "user", "content": "Name one primary color."},), settings)
        (result,) = list(backend.generate([request]))
    finally:
        backend.close()
    assert result.error is None, result.error
    assert result.text and result.text.strip()
