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
from pathlib import Path
from typing import Any

from trust_core.contracts import Quantizer, Variant
from trust_gptq.recipe import GptqRecipe, parse_recipe
from trust_transformers.calibration import calibration_record, calibration_samples
from trust_transformers.checks import reload_and_generate
from trust_transformers.gptqmodel_runner import import_gptqmodel, preflight, quantize_and_save
from trust_transformers.source import (
    ModelSource,
    dense_folder,
    float32_parameter_bytes,
    library_versions,
    prequantized,
    require_dense,
    require_source,
)

GPTQ_LAYERS = "gptqmodel.nn_modules.qlinear"


class GptqQuantizer(Quantizer):
    """GPTQ (Frantar et al., 2022) through GPTQModel 7.6, on CPU.

    Calibrates on ``calibration_samples`` texts from trust-transformers' paragraphs (seeded), quantizes
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
        versions = preflight("gptq")
        source = require_source(model, "--quantize gptq")
        if (loaded := prequantized(source, "gptq", ("gptq",))) is not None:
            return Variant(source.location, loaded | {"recipe_applied": False})  # already gptq: load it as it is
        require_dense(source, "--quantize gptq")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="trust-gptq-"))
        try:
            return self._quantize(source, parsed, output_dir, scratch, versions)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _quantize(
        self, source: ModelSource, recipe: GptqRecipe, output_dir: Path, scratch: Path, versions: dict[str, str]
    ) -> Variant:
        import torch
        from transformers import AutoTokenizer

        started = time.perf_counter()
        location = source.location
        if source.kind == "gguf":
            location = str(scratch / "dense")
            dense_folder(source, Path(location))
        dequantize_seconds = time.perf_counter() - started
        bytes_before = float32_parameter_bytes(location)
        samples = calibration_samples(recipe.calibration_samples, recipe.seed)
        config = import_gptqmodel().QuantizeConfig(
            bits=recipe.bits,
            group_size=recipe.group_size,
            sym=recipe.sym,
            desc_act=recipe.desc_act,
            act_group_aware=not recipe.desc_act,
            damp_percent=recipe.damp_percent,
            offload_to_disk_path=str(scratch / "offload"),
        )
        torch.manual_seed(recipe.seed)
        done = quantize_and_save(location, config, samples, output_dir, scratch, dtype=torch.float32)
        if not (output_dir / "tokenizer_config.json").is_file():
            AutoTokenizer.from_pretrained(location).save_pretrained(output_dir)
        with contextlib.chdir(scratch):
            check = reload_and_generate(output_dir, GPTQ_LAYERS)
        details: dict[str, Any] = {
            "method": "gptq",
            **recipe.as_dict(),
            "act_group_aware": not recipe.desc_act,
            "lm_head_quantized": False,
            "checkpoint_format": "gptq",
            "calibration": calibration_record(samples, recipe.seed),
            "base_source": source.kind,
            "dequantized_from_gguf": source.gguf_file,
            "dequantize_seconds": round(dequantize_seconds, 2) if source.kind == "gguf" else None,
            "quantize_seconds": done.quantize_seconds,
            "quantized_layers": check["quantized_layers"],
            "parameter_bytes_before": bytes_before,
            "memory_bytes_after": check["memory_footprint_bytes"],
            "compression_ratio": round(bytes_before / check["memory_footprint_bytes"], 3),
            "reload_check": check,
            "device": done.device,
            "cpu_workers": os.environ.get("GPTQMODEL_CPU_WORKERS"),
            "libraries": library_versions("gptqmodel", "optimum", "transformers", "torch", "accelerate") | versions,
        }
        return Variant(str(output_dir), details)
