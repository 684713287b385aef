"""The ``bnb`` quantizer: a bitsandbytes nf4 / fp4 / int8 checkpoint saved with ``save_pretrained``.

The saved folder's ``config.json`` carries the ``quantization_config``, so any
``AutoModelForCausalLM.from_pretrained(folder)`` (the hf backend's load) rebuilds the bitsandbytes layers
on CPU without being told anything. The quantizer reloads the folder that way and generates a few tokens
before returning, so a variant that would not load never leaves the plugin.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trust_bnb.recipe import BNB_4BIT_BLOCKSIZE, RECIPE_OPTIONS, BnbRecipe, parse_recipe
from trust_core.plugin import Quantizer, UserError, Variant
from trust_transformers.checks import layer_counts, reload_and_generate
from trust_transformers.source import (
    ModelSource,
    dense_folder,
    float32_parameter_bytes,
    library_versions,
    prequantized,
    require_dense,
    require_source,
)

MIN_BITSANDBYTES = (0, 45)


def require_bitsandbytes() -> str:
    """The installed bitsandbytes version; UserError when it is missing or older than 0.45."""
    from importlib import metadata

    try:
        version = metadata.version("bitsandbytes")
    except metadata.PackageNotFoundError:
        raise UserError("--quantize bnb needs bitsandbytes: pip install 'bitsandbytes>=0.45'") from None
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_BITSANDBYTES:
        raise UserError(f"--quantize bnb needs bitsandbytes>=0.45 (CPU support), found {version}")
    return version


def bnb_config(recipe: BnbRecipe) -> Any:
    """The ``BitsAndBytesConfig`` for ``recipe``."""
    import torch
    from transformers import BitsAndBytesConfig

    if recipe.bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=recipe.quant_type,
        bnb_4bit_compute_dtype=getattr(torch, recipe.compute_dtype),
        bnb_4bit_use_double_quant=recipe.double_quant,
    )


def parameter_bytes(model: Any) -> int:
    """Bytes the model's parameters occupy as stored (packed 4-bit weights count one byte per two weights)."""
    return int(sum(p.numel() * p.element_size() for p in model.parameters()))


class BnbQuantizer(Quantizer):
    """bitsandbytes quantization on CPU: ``bits`` 4 → nf4 (or fp4 via ``quant_type``), 8 → int8.

    Data-free and deterministic. The base may be a GGUF file (de-quantized to a temporary float32
    folder first), a model folder or a hub id. ``output_dir`` receives a standard transformers
    checkpoint (``model.safetensors`` + ``config.json`` with ``quantization_config``) and the tokenizer.
    """

    name = "bnb"

    recipe_options = RECIPE_OPTIONS

    @classmethod
    def check_recipe(cls, recipe: Mapping[str, Any]) -> None:
        """The recipe is validated in full before any model is loaded."""
        parse_recipe(recipe)

    version = "1"
    description = "bitsandbytes nf4/fp4 (4-bit) or int8 (8-bit) weights; data-free; loads on CPU with transformers"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Quantize ``model`` per ``recipe`` into ``output_dir``, reload it, generate, and report measurements."""
        parsed = parse_recipe(recipe)
        bnb_version = require_bitsandbytes()
        source = require_source(model, "--quantize bnb")
        if (loaded := prequantized(source, "bnb", ("bitsandbytes",))) is not None:
            return Variant(source.location, loaded | {"recipe_applied": False})  # already bnb: load it as it is
        require_dense(source, "--quantize bnb")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="trust-bnb-"))
        try:
            return self._quantize(source, parsed, output_dir, scratch, bnb_version)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _quantize(
        self, source: ModelSource, recipe: BnbRecipe, output_dir: Path, scratch: Path, bnb_version: str
    ) -> Variant:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        location = source.location
        if source.kind == "gguf":
            location = str(scratch / "dense")
            dense_folder(source, Path(location))
        dequantize_seconds = time.perf_counter() - started
        bytes_before = float32_parameter_bytes(location)
        started = time.perf_counter()
        try:
            quantized = AutoModelForCausalLM.from_pretrained(
                location, quantization_config=bnb_config(recipe), device_map="cpu", dtype=torch.float32
            )
        except OSError as exc:
            raise UserError(f"bnb: cannot load {source.location}: {exc}") from None
        tokenizer = AutoTokenizer.from_pretrained(location)
        quantize_seconds = time.perf_counter() - started
        bytes_after = parameter_bytes(quantized)
        layers = layer_counts(quantized, "bitsandbytes")
        quantized.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        del quantized
        check = reload_and_generate(output_dir, "bitsandbytes")
        details: dict[str, Any] = {
            "method": "bitsandbytes",
            **recipe.as_dict(),
            "block_size": BNB_4BIT_BLOCKSIZE if recipe.bits == 4 else None,
            "scales": "per block of 64 weights (absmax)" if recipe.bits == 4 else "per output row (absmax, LLM.int8)",
            "group_size_requested": recipe.group_size,
            "group_size_applied": False,
            "base_source": source.kind,
            "dequantized_from_gguf": source.gguf_file,
            "dequantize_seconds": round(dequantize_seconds, 2) if source.kind == "gguf" else None,
            "quantize_seconds": round(quantize_seconds, 2),
            "quantized_layers": layers,
            "parameter_bytes_before": bytes_before,
            "parameter_bytes_after": bytes_after,
            "compression_ratio": round(bytes_before / bytes_after, 3) if bytes_after else None,
            "reload_check": check,
            "device": "cpu",
            "libraries": library_versions("bitsandbytes", "transformers", "torch", "accelerate", "safetensors")
            | {"bitsandbytes": bnb_version},
        }
        return Variant(str(output_dir), details)
