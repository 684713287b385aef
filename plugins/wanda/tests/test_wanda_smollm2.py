"""Wanda 2:4 on the real SmolLM2-135M-Instruct GGUF (de-quantized to float32 on CPU), saved and reloaded; every
pruner x pattern on SmolLM2's first blocks as a model folder (its real weights, tokenizer and layer shapes; minutes
less)."""

from __future__ import annotations

from pathlib import Path

import pytest
from smollm2_blocks import BLOCKS, PROJECTIONS
from trust_wanda import WandaPruner, check_pattern
from trust_wanda.sparsity import measure_sparsity

pytestmark = pytest.mark.slow


def test_wanda_2_4_on_smollm2_saves_a_loadable_sparse_model(tmp_path: Path) -> None:
    trust_smollm2 = pytest.importorskip("trust_smollm2")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe = {"pattern": "2:4", "calibration_samples": 4, "calibration_seq_len": 128, "seed": 0}
    variant = WandaPruner().prune(trust_smollm2.gguf_path(), recipe, tmp_path / "wanda-2of4")
    details = variant.details
    assert details["pattern_ok"] is True
    assert details["pattern_check"]["layers_checked"] == details["pruned_layers"] == 30 * 7
    assert 0.5 <= details["measured_sparsity"] < 0.501  # Q4_1 de-quantization may leave a few zeros of its own
    assert details["calibration"]["samples"] == 4 and details["calibration"]["seq_len"] == 128
    assert details["base_source"] == "gguf"

    folder = Path(variant.model)
    assert check_pattern(folder, "2:4").ok
    assert measure_sparsity(folder).zeros == details["pruned_weights"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    embeddings = model.model.embed_tokens.weight  # not pruned (a few exact zeros come from Q4_1 itself)
    assert embeddings.count_nonzero() > 0.95 * embeddings.numel()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, tokenize=False
    )
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        output = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert output.shape[1] > ids.shape[1]
    assert torch.isfinite(model(ids).logits).all()

    trust_hf = pytest.importorskip("trust_hf")
    from trust_core.contracts import BackendOptions

    backend = trust_hf.HFBackend(str(folder), BackendOptions())
    assert trust_hf.HFBackend.supports(str(folder)) == 2
    assert backend.render([{"role": "user", "content": "Hi"}]).endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize(
    ("pruner", "pattern"),
    [("magnitude", "2:4"), ("wanda", "4:8"), ("sparsegpt", "2:4"), ("sparsegpt", "4:8")],
)
def test_every_pruner_and_pattern_on_smollm2s_first_blocks(
    pruner: str, pattern: str, smollm2_first_blocks_folder: Path, tmp_path: Path
) -> None:
    """With wanda 2:4 above on the whole model, every pruner x {2:4, 4:8} runs on SmolLM2's real weights (its first
    blocks: SparseGPT takes minutes on all 30 on 2 cores)."""
    import torch
    from trust_wanda import MagnitudePruner, SparseGPTPruner

    cls = {"magnitude": MagnitudePruner, "wanda": WandaPruner, "sparsegpt": SparseGPTPruner}[pruner]
    recipe = {"pattern": pattern, "seed": 0}
    if pruner != "magnitude":
        recipe |= {"calibration_samples": 4, "calibration_seq_len": 128}
    variant = cls().prune(str(smollm2_first_blocks_folder), recipe, tmp_path / "v")
    details = variant.details
    assert details["pattern"] == pattern and details["pattern_ok"] is True
    assert details["pattern_check"]["layers_checked"] == details["pruned_layers"] == BLOCKS * PROJECTIONS
    assert 0.5 <= details["measured_sparsity"] < 0.501
    assert check_pattern(Path(variant.model), pattern).ok

    trust_hf = pytest.importorskip("trust_hf")
    from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings

    backend = trust_hf.HFBackend(variant.model, BackendOptions())
    try:
        settings = GenerationSettings(temperature=0.0, max_new_tokens=4, seed=0)
        (result,) = backend.generate([ChatRequest("k", ({"role": "user", "content": "Say hello."},), settings)])
    finally:
        backend.close()
    assert result.error is None  # a heavily pruned tiny model may answer with an immediate end-of-turn
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(variant.model, dtype=torch.float32).eval()
    with torch.inference_mode():
        logits = model(torch.tensor([[1, 2, 3, 4]])).logits
    assert torch.isfinite(logits).all()
