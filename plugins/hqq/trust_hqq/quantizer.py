"""The ``hqq`` quantizer: Half-Quadratic Quantization through hqq's own API, on CPU or GPU.

HQQ (Badri & Shaji, 2023) fits each group's scale and zero-point by half-quadratic optimisation of the
weight reconstruction error: no calibration data, deterministic. The result is saved in hqq's format
(``qmodel.pt``) with the tokenizer; the ``hqq`` backend of this plugin loads such folders. Before returning,
the quantizer reloads the folder with hqq's loader and generates a few tokens.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trust_core.plugin import Quantizer, UserError, Variant
from trust_hqq.checkpoint import WEIGHTS_FILE, is_hqq_folder, load_hqq, quiet_hqq, read_marker, write_marker
from trust_hqq.recipe import RECIPE_OPTIONS, HqqRecipe, parse_recipe
from trust_transformers.checks import reload_and_generate
from trust_transformers.source import (
    ModelSource,
    float32_parameter_bytes,
    library_versions,
    load_dense,
    require_dense,
    require_source,
)

HQQ_LAYERS = "hqq.core"


def require_hqq() -> str:
    """The installed hqq version; UserError naming the fix when it is missing."""
    versions = library_versions("hqq")
    if "hqq" not in versions:
        raise UserError("--quantize hqq needs hqq: DISABLE_CUDA=1 pip install hqq (CPU) or pip install hqq (GPU)")
    return versions["hqq"]


def _device() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


class HqqQuantizer(Quantizer):
    """HQQ weight quantization of every decoder linear layer (the LM head stays dense).

    The base may be a GGUF file (de-quantized to float32 on load), a model folder or a hub id.
    ``output_dir`` receives hqq's checkpoint (``config.json`` + ``qmodel.pt``), ``hqq_config.json``
    (the recipe) and the tokenizer.
    """

    name = "hqq"

    recipe_options = RECIPE_OPTIONS

    @classmethod
    def check_recipe(cls, recipe: Mapping[str, Any]) -> None:
        """The recipe is validated in full before any model is loaded."""
        parse_recipe(recipe)

    version = "1"
    description = "HQQ (half-quadratic, calibration-free) via hqq; 1/2/3/4/8 bits, any group size; CPU or GPU"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Quantize ``model`` per ``recipe`` into ``output_dir``, reload it, generate, and report measurements."""
        parsed = parse_recipe(recipe)
        hqq_version = require_hqq()
        source = require_source(model, "--quantize hqq")
        if source.kind == "folder" and is_hqq_folder(Path(source.location)):  # already hqq: load it as it is
            details = {"method": "hqq", "prequantized": True, "hqq": read_marker(Path(source.location))}
            return Variant(source.location, details | {"base_source": "folder", "recipe_applied": False})
        require_dense(source, "--quantize hqq")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        return self._quantize(source, parsed, output_dir, hqq_version)

    def _quantize(self, source: ModelSource, recipe: HqqRecipe, output_dir: Path, hqq_version: str) -> Variant:
        import torch

        quiet_hqq()
        from hqq.core.quantize import BaseQuantizeConfig
        from hqq.models.hf.base import AutoHQQHFModel

        started = time.perf_counter()
        dense, tokenizer = load_dense(source)
        load_seconds = time.perf_counter() - started
        bytes_before = _parameter_bytes(dense, source)
        _check_group_size(dense, recipe.group_size)
        device = _device()
        compute_dtype = getattr(torch, recipe.compute_dtype)
        config = BaseQuantizeConfig(nbits=recipe.bits, group_size=recipe.group_size, axis=recipe.axis)
        started = time.perf_counter()
        AutoHQQHFModel.quantize_model(dense, quant_config=config, compute_dtype=compute_dtype, device=device)
        quantize_seconds = time.perf_counter() - started
        AutoHQQHFModel.save_quantized(dense, str(output_dir))
        tokenizer.save_pretrained(output_dir)
        write_marker(output_dir, recipe.as_dict(), hqq_version)
        del dense
        check = reload_and_generate(
            output_dir, HQQ_LAYERS, load=lambda folder: load_hqq(str(folder), compute_dtype, device)
        )
        details: dict[str, Any] = {
            "method": "hqq",
            **recipe.as_dict(),
            "calibration": None,
            "lm_head_quantized": False,
            "checkpoint_format": f"hqq ({WEIGHTS_FILE})",
            "base_source": source.kind,
            "dequantized_from_gguf": source.gguf_file,
            "load_seconds": round(load_seconds, 2),
            "quantize_seconds": round(quantize_seconds, 2),
            "quantized_layers": check["quantized_layers"],
            "parameter_bytes_before": bytes_before,
            "memory_bytes_after": check["memory_footprint_bytes"],
            "compression_ratio": round(bytes_before / check["memory_footprint_bytes"], 3),
            "reload_check": check,
            "device": device,
            "libraries": library_versions("hqq", "transformers", "torch", "accelerate") | {"hqq": hqq_version},
        }
        return Variant(str(output_dir), details)


def _parameter_bytes(model: Any, source: ModelSource) -> int:
    """float32 parameter bytes of the dense base (tied embeddings counted once)."""
    if source.kind == "folder":
        return float32_parameter_bytes(source.location)
    return int(sum(p.numel() for p in model.parameters()) * 4)


def _check_group_size(model: Any, group_size: int) -> None:
    """UserError when some decoder linear layer's weight count is not a multiple of ``group_size``."""
    import torch

    for name, module in model.named_modules():
        linear = isinstance(module, torch.nn.Linear) and not name.endswith("lm_head")
        if linear and module.weight.numel() % group_size:
            shape = tuple(module.weight.shape)
            raise UserError(f"--quantize hqq: group_size {group_size} does not divide layer {name} {shape}")
