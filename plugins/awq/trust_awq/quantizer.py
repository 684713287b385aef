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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trust_awq.recipe import RECIPE_OPTIONS, AwqRecipe, parse_recipe
from trust_core.plugin import Quantizer, Variant
from trust_transformers.gptqmodel_runner import GptqModelJob, run_quantizer

QUANTIZE_DTYPE_CPU = "bfloat16"
"""GPTQModel's AWQ torch packer takes float16/bfloat16 only; bfloat16 keeps float32's range on CPU."""


def awq_job(recipe: AwqRecipe) -> GptqModelJob:
    """The GPTQModel run for ``recipe``: AWQConfig, bfloat16 + the torch AWQ packer on CPU, float16 on GPU."""

    def make_config(scratch: Path) -> Any:
        from gptqmodel.quantization.config import AWQConfig

        offload = str(scratch / "offload")
        return AWQConfig(
            bits=recipe.bits, group_size=recipe.group_size, sym=not recipe.zero_point, offload_to_disk_path=offload
        )

    def dtype(on_gpu: bool) -> Any:
        import torch

        return torch.float16 if on_gpu else getattr(torch, QUANTIZE_DTYPE_CPU)

    def packing_backend(on_gpu: bool) -> Any:
        from gptqmodel.utils.backend import BACKEND

        return None if on_gpu else BACKEND.AWQ_TORCH  # GPTQModel's default AWQ packer is CUDA-only

    return GptqModelJob(
        method="awq",
        quant_methods=("awq",),
        calibration_samples=recipe.calibration_samples,
        seed=recipe.seed,
        make_config=make_config,
        dtype=dtype,
        packing_backend=packing_backend,
        recipe=recipe.as_dict() | {"checkpoint_format": "awq (gemm)"},
    )


class AwqQuantizer(Quantizer):
    """AWQ (Lin et al., 2023) through GPTQModel 7.6: calibrated, seeded, 4-bit GEMM checkpoints.

    A GGUF base is de-quantized to a temporary float32 folder first, since GPTQModel needs a Hugging Face
    folder. The LM head stays dense. On CPU the model is held in bfloat16 while quantizing (the AWQ packer
    takes no float32); on a GPU, float16. A folder that already holds an AWQ checkpoint is used as it is.
    """

    name = "awq"

    recipe_options = RECIPE_OPTIONS

    @classmethod
    def check_recipe(cls, recipe: Mapping[str, Any]) -> None:
        """The recipe is validated in full before any model is loaded."""
        parse_recipe(recipe)

    version = "1"
    description = "AWQ via GPTQModel 7.6 on CPU or GPU (calibrated, seeded); 4-bit GEMM checkpoints"

    def quantize(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Quantize ``model`` per ``recipe`` into ``output_dir``, reload it, generate, and report measurements."""
        return run_quantizer(awq_job(parse_recipe(recipe)), model, output_dir)
