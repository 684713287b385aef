"""The smoke test a quantizer runs on its own output: reload the folder, generate a few greedy tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHECK_PROMPT = "What is the capital of France?"
CHECK_TOKENS = 8


def layer_counts(model: Any, module_prefix: str) -> dict[str, int]:
    """How many modules of each class whose module path starts with ``module_prefix`` ``model`` holds."""
    counts: dict[str, int] = {}
    for module in model.modules():
        if type(module).__module__.startswith(module_prefix):
            name = type(module).__name__
            counts[name] = counts.get(name, 0) + 1
    return counts


def load_with_transformers(folder: Path) -> Any:
    """Load ``folder`` the way the hf backend does on CPU (float32; the config's quantization_config applies)."""
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)


def reload_and_generate(
    folder: Path, module_prefix: str, load: Callable[[Path], Any] = load_with_transformers
) -> dict[str, Any]:
    """Load ``folder`` with ``load``, check it holds quantized layers, generate a few greedy tokens; report.

    ``module_prefix`` names where the method's layer classes live (e.g. ``"bitsandbytes"``); a reloaded
    model without any such layer, or one that generates nothing, raises RuntimeError, so a variant
    that would not load as intended never leaves the plugin.
    """
    import torch
    from transformers import AutoTokenizer

    started = time.perf_counter()
    model = load(folder).eval()
    load_seconds = time.perf_counter() - started
    layers = layer_counts(model, module_prefix)
    if not layers:
        raise RuntimeError(f"{folder}: reloaded without any quantized layer from {module_prefix}")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    messages = [{"role": "user", "content": CHECK_PROMPT}]
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        prompt = CHECK_PROMPT
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    started = time.perf_counter()
    with torch.no_grad():
        output = model.generate(
            **inputs, max_new_tokens=CHECK_TOKENS, do_sample=False, pad_token_id=tokenizer.eos_token_id
        )
    seconds = time.perf_counter() - started
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    if len(new_tokens) == 0:
        raise RuntimeError(f"{folder}: the reloaded model generated no tokens")
    return {
        "prompt": CHECK_PROMPT,
        "text": tokenizer.decode(new_tokens, skip_special_tokens=True),
        "new_tokens": len(new_tokens),
        "tokens_per_second": round(len(new_tokens) / seconds, 2) if seconds > 0 else None,
        "load_seconds": round(load_seconds, 2),
        "quantized_layers": layers,
        "memory_footprint_bytes": int(model.get_memory_footprint()),
    }
