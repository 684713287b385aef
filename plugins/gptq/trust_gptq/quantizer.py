"""The ``gptq`` quantizer: GPTQ through GPTQModel 7.6 on CPU, saved so transformers loads it on CPU.

The saved folder's ``config.json`` carries ``quantization_config`` (``quant_method: gptq``), so the hf
backend's ``AutoModelForCausalLM.from_pretrained(folder)`` loads it unchanged, given ``gptqmodel`` and
``optimum`` are installed (transformers uses GPTQModel's torch kernel on CPU). The quantizer reloads the
folder that way and generates a few tokens before returning.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from trust_core.contracts import Quantizer, Variant
from trust_core.errors import UserError
from trust_gptq.calibration import CALIBRATION_FILE, calibration_file_sha256, calibration_samples, samples_sha256
from trust_gptq.recipe import GptqRecipe, parse_recipe
from trust_gptq.source import BaseModel, classify, dense_folder_from_gguf, library_versions

SUPPORTED_GPTQMODEL = "7.6."
"""GPTQModel 7.6 quantizes on a CPU build of torch; 7.7 wants a CUDA build."""

DEFAULT_CPU_WORKERS = "2"
CHECK_PROMPT = "What is the capital of France?"
CHECK_TOKENS = 8


def preflight() -> dict[str, str]:
    """Check, without importing them, that GPTQModel 7.6 and optimum are installed; their versions.

    Raises one :class:`~trust_core.errors.UserError` naming the fix, before any model is loaded.
    """
    versions: dict[str, str] = {}
    for name, hint in (("gptqmodel", "'gptqmodel==7.6.*'"), ("optimum", "optimum")):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise UserError(f"--quantize gptq needs {name}: pip install {hint} (with your torch pinned)") from None
    if not versions["gptqmodel"].startswith(SUPPORTED_GPTQMODEL):
        import torch

        if not torch.cuda.is_available():
            raise UserError(
                f"--quantize gptq on CPU needs gptqmodel 7.6 (found {versions['gptqmodel']}, which wants a CUDA "
                "build of torch): pip install 'gptqmodel==7.6.*' with your torch pinned"
            )
    return versions


def _redirect_gptqmodel_logs(folder: Path) -> None:
    """Make GPTQModel write its per-run log under ``folder`` instead of ``./logs`` in the working directory."""
    from gptqmodel.looper import loop_processor

    if isinstance(getattr(loop_processor, "_PROJECT_LOG_DIR", None), Path):
        loop_processor._PROJECT_LOG_DIR = folder


def float32_parameter_bytes(location: str) -> int:
    """Bytes the base model's parameters take in float32 (how the hf backend holds it on CPU); counted on meta."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(location))
    model.tie_weights()  # on meta, tied embeddings are not shared until asked; parameters() counts shared ones once
    return sum(p.numel() for p in model.parameters()) * 4


def quantized_layers(model: Any) -> dict[str, int]:
    """How many layers of each GPTQ linear class ``model`` holds."""
    counts: dict[str, int] = {}
    for module in model.modules():
        name = type(module).__name__
        if type(module).__module__.startswith("gptqmodel.nn_modules.qlinear"):
            counts[name] = counts.get(name, 0) + 1
    return counts


def stored_bytes(model: Any) -> int:
    """Bytes of the model's parameters and buffers as held in memory (packed GPTQ weights are buffers)."""
    return int(model.get_memory_footprint())


def reload_and_generate(folder: Path) -> dict[str, Any]:
    """Load ``folder`` as the hf backend does on CPU, generate a few greedy tokens, and report what happened."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    load_seconds = time.perf_counter() - started
    layers = quantized_layers(model)
    if not layers:
        raise RuntimeError(f"{folder}: reloaded without any GPTQ layer (quantization_config ignored)")
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
        "memory_footprint_bytes": stored_bytes(model),
    }


class GptqQuantizer(Quantizer):
    """GPTQ (Frantar et al., 2022) through GPTQModel 7.6, on CPU.

    Calibrates on ``calibration_samples`` texts from the plugin's own paragraphs (seeded), quantizes
    every decoder linear layer to ``bits`` with ``group_size`` columns per scale (the LM head stays dense),
    and saves a GPTQ-format checkpoint plus the tokenizer in ``output_dir``. A GGUF base is de-quantized
    to a temporary float32 folder first, since GPTQModel needs a Hugging Face folder.
    """

    name = "gptq"
    version = "1"
    description = "GPTQ via GPTQModel 7.6 on CPU (calibrated, seeded); checkpoints transformers loads on CPU"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Quantize ``model`` per ``recipe`` into ``output_dir``, reload it, generate, and report measurements."""
        parsed = parse_recipe(recipe)
        versions = preflight()
        source = classify(model, "gptq")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="trust-gptq-"))
        try:
            return self._quantize(source, parsed, output_dir, scratch, versions)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _quantize(
        self, source: BaseModel, recipe: GptqRecipe, output_dir: Path, scratch: Path, versions: dict[str, str]
    ) -> Variant:
        os.environ.setdefault("GPTQMODEL_CPU_WORKERS", DEFAULT_CPU_WORKERS)  # read when gptqmodel is imported
        import torch
        from gptqmodel import GPTQModel, QuantizeConfig
        from transformers import AutoTokenizer

        _redirect_gptqmodel_logs(scratch / "logs")

        started = time.perf_counter()
        location = source.location
        if source.kind == "gguf":
            location = str(scratch / "dense")
            dense_folder_from_gguf(source, Path(location))
        dequantize_seconds = time.perf_counter() - started
        bytes_before = float32_parameter_bytes(location)
        samples = calibration_samples(recipe.calibration_samples, recipe.seed)
        config = QuantizeConfig(
            bits=recipe.bits,
            group_size=recipe.group_size,
            sym=recipe.sym,
            desc_act=recipe.desc_act,
            act_group_aware=not recipe.desc_act,
            damp_percent=recipe.damp_percent,
            offload_to_disk_path=str(scratch / "offload"),
        )
        torch.manual_seed(recipe.seed)
        started = time.perf_counter()
        try:
            model = GPTQModel.load(location, config, device="cpu", dtype=torch.float32)
        except OSError as exc:
            raise UserError(f"gptq: cannot load {source.location}: {exc}") from None
        output_dir = output_dir.resolve()
        with contextlib.chdir(scratch):  # GPTQModel also writes run logs to ./logs of the working directory
            model.quantize(samples, batch_size=1)
            quantize_seconds = time.perf_counter() - started
            model.save(str(output_dir))
            del model
        if not (output_dir / "tokenizer_config.json").is_file():
            AutoTokenizer.from_pretrained(location).save_pretrained(output_dir)
        with contextlib.chdir(scratch):
            check = reload_and_generate(output_dir)
        details: dict[str, Any] = {
            "method": "gptq",
            **recipe.as_dict(),
            "act_group_aware": not recipe.desc_act,
            "lm_head_quantized": False,
            "checkpoint_format": "gptq",
            "calibration": {
                "source": f"trust_gptq/{CALIBRATION_FILE}",
                "file_sha256": calibration_file_sha256(),
                "samples": len(samples),
                "samples_sha256": samples_sha256(samples),
                "seed": recipe.seed,
            },
            "base_source": source.kind,
            "dequantized_from_gguf": source.gguf_file,
            "dequantize_seconds": round(dequantize_seconds, 2) if source.kind == "gguf" else None,
            "quantize_seconds": round(quantize_seconds, 2),
            "quantized_layers": check["quantized_layers"],
            "parameter_bytes_before": bytes_before,
            "memory_bytes_after": check["memory_footprint_bytes"],
            "compression_ratio": round(bytes_before / check["memory_footprint_bytes"], 3),
            "reload_check": check,
            "device": "cpu",
            "cpu_workers": os.environ.get("GPTQMODEL_CPU_WORKERS"),
            "libraries": library_versions("gptqmodel", "optimum", "transformers", "torch", "accelerate") | versions,
        }
        return Variant(str(output_dir), details)
