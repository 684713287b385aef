"""The ``gptq`` quantizer: GPTQ through GPTQModel 7.6 on CPU, saved so transformers loads it on CPU.

The saved folder's ``config.json`` carries ``quantization_config`` (``quant_method: gptq``), so the hf
backend's ``AutoModelForCausalLM.from_pretrained(folder)`` loads it unchanged, given ``gptqmodel`` and
``optimum`` are installed (transformers uses GPTQModel's torch kernel on CPU). The quantizer reloads the
folder that way and generates a few tokens before returning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trust_core.plugin import Quantizer, Variant
from trust_gptq.recipe import RECIPE_OPTIONS, GptqRecipe, parse_recipe
from trust_transformers.gptqmodel_runner import GptqModelJob, import_gptqmodel, run_quantizer


def gptq_job(recipe: GptqRecipe) -> GptqModelJob:
    """The GPTQModel run for ``recipe``: float32 on CPU (float16 on GPU), GPTQModel's own packer."""

    def make_config(scratch: Path) -> Any:
        return import_gptqmodel().QuantizeConfig(
            bits=recipe.bits,
            group_size=recipe.group_size,
            sym=recipe.sym,
            desc_act=recipe.desc_act,
            act_group_aware=not recipe.desc_act,
            damp_percent=recipe.damp_percent,
            offload_to_disk_path=str(scratch / "offload"),
        )

    def dtype(on_gpu: bool) -> Any:
        import torch

        return torch.float16 if on_gpu else torch.float32

    return GptqModelJob(
        method="gptq",
        quant_methods=("gptq",),
        calibration_samples=recipe.calibration_samples,
        seed=recipe.seed,
        make_config=make_config,
        dtype=dtype,
        packing_backend=lambda _on_gpu: None,
        recipe=recipe.as_dict() | {"act_group_aware": not recipe.desc_act, "checkpoint_format": "gptq"},
    )


class GptqQuantizer(Quantizer):
    """GPTQ (Frantar et al., 2022) through GPTQModel 7.6, on CPU.

    Calibrates on ``calibration_samples`` texts from trust-transformers' paragraphs (seeded), quantizes
    every decoder linear layer to ``bits`` with ``group_size`` columns per scale (the LM head stays dense),
    and saves a GPTQ-format checkpoint plus the tokenizer in ``output_dir``. A GGUF base is de-quantized
    to a temporary float32 folder first, since GPTQModel needs a Hugging Face folder. A folder that already
    holds a GPTQ checkpoint is used as it is.
    """

    name = "gptq"

    recipe_options = RECIPE_OPTIONS

    @classmethod
    def check_recipe(cls, recipe: Mapping[str, Any]) -> None:
        """The recipe is validated in full before any model is loaded."""
        parse_recipe(recipe)

    version = "1"
    description = "GPTQ via GPTQModel 7.6 on CPU (calibrated, seeded); checkpoints transformers loads on CPU"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Quantize ``model`` per ``recipe`` into ``output_dir``, reload it, generate, and report measurements."""
        return run_quantizer(gptq_job(parse_recipe(recipe)), model, output_dir)
