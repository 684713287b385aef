"""The ``awq`` quantizer: AWQ (activation-aware weight quantization) through GPTQModel 7.6, on CPU or GPU.

AutoAWQ is deprecated and cannot run its output on CPU; GPTQModel 7.6 carries AWQ: it searches per-channel
activation-aware scales on calibration text, quantizes to 4-bit groups and packs the weights in AWQ's
GEMM format with its torch kernel, which runs on CPU in bfloat16. The saved folder's ``config.json`` carries
``quantization_config`` (``quant_method: awq``, ``version: gemm``) — the format of published AWQ checkpoints
such as ``hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4`` — so the hf backend loads it unchanged
(transformers uses GPTQModel's kernels on CPU). The quantizer reloads the folder that way and generates a few
tokens before returning.
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

from trust_awq.recipe import AwqRecipe, parse_recipe
from trust_core.contracts import Quantizer, Variant
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

AWQ_LAYERS = "gptqmodel.nn_modules.qlinear"
QUANTIZE_DTYPE_CPU = "bfloat16"
"""GPTQModel's AWQ torch packer takes float16/bfloat16 only; bfloat16 keeps float32's range on CPU."""


class AwqQuantizer(Quantizer):
    """AWQ (Lin et al., 2023) through GPTQModel 7.6: calibrated, seeded, 4-bit GEMM checkpoints.

    A GGUF base is de-quantized to a temporary float32 folder first, since GPTQModel needs a Hugging Face
    folder. The LM head stays dense. On CPU the model is held in bfloat16 while quantizing (the AWQ packer
    takes no float32); on a GPU, float16.
    """

    name = "awq"
    version = "1"
    description = "AWQ via GPTQModel 7.6 on CPU or GPU (calibrated, seeded); 4-bit GEMM checkpoints"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Quantize ``model`` per ``recipe`` into ``output_dir``, reload it, generate, and report measurements."""
        parsed = parse_recipe(recipe)
        versions = preflight("awq")
        source = require_source(model, "--quantize awq")
        if (loaded := prequantized(source, "awq", ("awq",))) is not None:
            return Variant(source.location, loaded | {"recipe_applied": False})  # already awq: load it as it is
        require_dense(source, "--quantize awq")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="trust-awq-"))
        try:
            return self._quantize(source, parsed, output_dir, scratch, versions)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _quantize(
        self, source: ModelSource, recipe: AwqRecipe, output_dir: Path, scratch: Path, versions: dict[str, str]
    ) -> Variant:
        import torch
        from transformers import AutoTokenizer

        import_gptqmodel()  # sets GPTQMODEL_CPU_WORKERS before gptqmodel's first import
        from gptqmodel.quantization.config import AWQConfig
        from gptqmodel.utils.backend import BACKEND

        started = time.perf_counter()
        location = source.location
        if source.kind == "gguf":
            location = str(scratch / "dense")
            dense_folder(source, Path(location))
        dequantize_seconds = time.perf_counter() - started
        bytes_before = float32_parameter_bytes(location)
        samples = calibration_samples(recipe.calibration_samples, recipe.seed)
        config = AWQConfig(
            bits=recipe.bits,
            group_size=recipe.group_size,
            sym=not recipe.zero_point,
            offload_to_disk_path=str(scratch / "offload"),
        )
        on_gpu = torch.cuda.is_available()
        dtype = torch.float16 if on_gpu else getattr(torch, QUANTIZE_DTYPE_CPU)
        torch.manual_seed(recipe.seed)
        done = quantize_and_save(
            location, config, samples, output_dir, scratch, dtype=dtype, backend=None if on_gpu else BACKEND.AWQ_TORCH
        )
        if not (output_dir / "tokenizer_config.json").is_file():
            AutoTokenizer.from_pretrained(location).save_pretrained(output_dir)
        with contextlib.chdir(scratch):
            check = reload_and_generate(output_dir, AWQ_LAYERS)
        details: dict[str, Any] = {
            "method": "awq",
            **recipe.as_dict(),
            "lm_head_quantized": False,
            "checkpoint_format": "awq (gemm)",
            "calibration": calibration_record(samples, recipe.seed),
            "base_source": source.kind,
            "dequantized_from_gguf": source.gguf_file,
            "dequantize_seconds": round(dequantize_seconds, 2) if source.kind == "gguf" else None,
            "quantize_seconds": done.quantize_seconds,
            "quantize_dtype": done.dtype,
            "quantized_layers": check["quantized_layers"],
            "parameter_bytes_before": bytes_before,
            "memory_bytes_after": check["memory_footprint_bytes"],
            "compression_ratio": round(bytes_before / check["memory_footprint_bytes"], 3),
            "reload_check": check,
            "device": done.device,
            "cpu_workers": os.environ.get("GPTQMODEL_CPU_WORKERS"),
            "libraries": library_versions("gptqmodel", "transformers", "torch", "accelerate") | versions,
        }
        return Variant(str(output_dir), details)
